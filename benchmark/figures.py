"""Figures derived from result records: macro-F1 by language and setting."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any


def f1_by_language_figure(
    records: list[dict[str, Any]], *, title: str, path: Path, languages: list[str]
) -> Path:
    """Grouped bars: one group per language, one bar per (setting, model), gold first.

    Args:
        records: records of one dataset, classifier and n.
        title: figure title.
        path: PNG to write.
        languages: x-axis order.

    Returns:
        `path`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, dict[str, float]] = defaultdict(dict)
    for r in records:
        spec = r["spec"]
        name = spec["setting"] if not spec["model"] else f"{spec['setting']} ({spec['model']})"
        series[name][spec["language"]] = r["scores"]["macro_f1_mean"]
    names = sorted(series, key=lambda s: (not s.startswith("gold"), s))
    width = 0.8 / max(len(names), 1)
    fig, ax = plt.subplots(
        figsize=(max(6.0, 0.9 * len(languages) + 2) + 3.5, 3.6 + 0.08 * len(names))
    )
    for i, name in enumerate(names):
        xs = [j + i * width for j, code in enumerate(languages) if code in series[name]]
        ys = [series[name][code] for code in languages if code in series[name]]
        ax.bar(xs, ys, width=width, label=name, color="black" if name == "gold" else None)
    ax.set_xticks([j + (len(names) - 1) * width / 2 for j in range(len(languages))], languages)
    ax.set_ylabel("macro-F1 (test)")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
    return path
