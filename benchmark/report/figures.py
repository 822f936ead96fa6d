"""Figures derived from result records: macro-F1 by language and setting (with the spread
over seeds), the gap to gold, and FreeAL per round.

Horizontal bars throughout: one row per (setting, model), one bar per language, so long
setting names stay readable and a group of 40 settings is still a legible chart.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmark.case.records import Record, as_record
from benchmark.case.spec import FreeALSpec
from benchmark.report.rows import LANGUAGE_ORDER, gap_to_gold, variant
from benchmark.scoring import wrap_title

GOLD_FIRST = "gold"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def series_name(record: Record | dict[str, Any]) -> str:
    """Setting (+ selection, augmentation) and model: the row label of a chart."""

    model = as_record(record).model
    return variant(record) + (f" ({model})" if model else "")


def _order(names) -> list[str]:
    return sorted(names, key=lambda s: (not s.startswith(GOLD_FIRST), s))


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    _plt().close(fig)
    return path


def language_colour(code: str, languages: list[str]):
    """A distinct colour per language (tab10, then the light half of tab20)."""
    plt = _plt()
    k = languages.index(code)
    return plt.get_cmap("tab10")(k) if k < 10 else plt.get_cmap("tab20")(2 * (k - 10) + 1)


def _barh_groups(ax, rows: list[str], languages: list[str], values, errors=None) -> float:
    """Horizontal bars, one block per row holding only the languages that row has, with value
    labels and optional error bars (`errors[row][lang]`). Returns the height used."""
    y, ticks = 0.0, []
    seen: set[str] = set()
    for row in rows:
        present = [code for code in languages if code in values[row]]
        start = y
        for code in present:
            err = (errors or {}).get(row, {}).get(code)
            bar = ax.barh(
                y,
                values[row][code],
                height=0.8,
                xerr=err if errors else None,
                color=language_colour(code, languages),
                label=code if code not in seen else None,
                error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "0.25"},
            )
            seen.add(code)
            ax.bar_label(bar, fmt="%.1f", padding=3, fontsize=7)
            y += 1
        ticks.append((start + y - 1) / 2)
        ax.axhline(y - 0.5 + 0.3, color="0.85", linewidth=0.6)
        y += 0.6
    ax.set_yticks(ticks, rows, fontsize=8)
    ax.set_ylim(y - 0.6, -0.7)
    ax.grid(axis="x", alpha=0.3)
    return y


def _height(rows: list[str], values) -> float:
    bars = sum(len(values[row]) for row in rows)
    return 1.3 + 0.17 * bars + 0.1 * len(rows)


def f1_by_language_figure(
    records: list[Record] | list[dict[str, Any]], *, title: str, path: Path, languages: list[str]
) -> Path:
    """Macro-F1 per (setting, model) and language, error bars = std over seeds, gold first.

    Args:
        records: records of one dataset, classifier and n.
        title: figure title (wrapped when long).
        path: PNG to write.
        languages: bar order within a row (and legend order).

    Returns:
        `path`.
    """
    plt = _plt()
    values: dict[str, dict[str, float]] = defaultdict(dict)
    errors: dict[str, dict[str, float]] = defaultdict(dict)
    for r in map(as_record, records):
        name, code = series_name(r), r.language
        values[name][code] = r.macro_f1
        errors[name][code] = r.macro_f1_std
    rows = _order(values)
    fig, ax = plt.subplots(figsize=(9, _height(rows, values)))
    _barh_groups(ax, rows, languages, values, errors)
    ax.set_xlim(0, 110)
    ax.set_xlabel("test macro-F1 (mean ± std over seeds)")
    ax.set_title(wrap_title(title), fontsize=10)
    ax.legend(title="language", fontsize=8, loc="best", framealpha=0.9)
    fig.tight_layout()
    return _save(fig, path)


def gap_to_gold_figure(
    records: list[Record] | list[dict[str, Any]],
    gold: dict[tuple, float],
    *,
    title: str,
    path: Path,
) -> Path:
    """Gap to the matching gold macro-F1 per generated (setting, model) and language.

    Args:
        records: records of one dataset, classifier and n (gold rows are skipped).
        gold: gold F1 per (dataset, language, classifier, n), see `leaderboard._gold_index`.
        title: dataset, classifier and size (wrapped when long).
        path: PNG to write.

    Returns:
        `path`.
    """

    plt = _plt()
    values: dict[str, dict[str, float]] = defaultdict(dict)
    for r in map(as_record, records):
        gap = gap_to_gold(r, gold)
        if gap is not None:
            values[series_name(r)][r.language] = gap
    rows = _order(values)

    present = {code for v in values.values() for code in v}
    languages = [c for c in LANGUAGE_ORDER if c in present] + sorted(present - set(LANGUAGE_ORDER))
    fig, ax = plt.subplots(figsize=(9, _height(rows, values)))
    _barh_groups(ax, rows, languages, values)
    low = min((v for row in values.values() for v in row.values()), default=0.0)
    high = max((v for row in values.values() for v in row.values()), default=0.0)
    ax.set_xlim(min(low, 0) - 12, max(high, 0) + 22)  # room right of 0 for the legend
    ax.axvline(0, color="black", linewidth=1)
    ax.set_xlabel("macro-F1 gap to gold of the same size (0 = as good as gold)")
    ax.set_title(wrap_title(f"Gap to gold: {title}"), fontsize=10)
    ax.legend(title="language", fontsize=8, loc="lower right", framealpha=0.9)
    fig.tight_layout()
    return _save(fig, path)


def _freeal_name(record: Record) -> str:
    fa = FreeALSpec.of(record.freeal_spec)
    parts = [record.language, f"demos {fa.demo_source}", fa.clean_selection]
    parts.append(fa.consistency)
    if fa.calibration != "none":
        parts.append(f"cal. {fa.calibration}")
    return ", ".join(parts)


def freeal_rounds_figure(
    records: list[Record] | list[dict[str, Any]], *, path: Path
) -> Path | None:
    """Per dataset, one row per FreeAL case: pool-label accuracy and the small model's test
    macro-F1 in every round (round 0 hollow, the last round labelled), and the same small
    model trained on the pool's true labels (x).

    Returns:
        `path`, or None without FreeAL records.
    """
    if not records:
        return None
    records = [as_record(r) for r in records]
    plt = _plt()
    datasets = sorted({r.dataset for r in records})
    groups = {d: sorted((r for r in records if r.dataset == d), key=_freeal_name) for d in datasets}
    heights = [1.0 + 0.28 * len(rows) for rows in groups.values()]
    fig, axes = plt.subplots(
        len(datasets),
        2,
        figsize=(12, sum(heights) + 0.6),
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    colours = plt.get_cmap("plasma")
    n_rounds = max(len(r.freeal_rounds) for r in records)
    for row, dataset in enumerate(datasets):
        mine = groups[dataset]
        for col, (metric, title) in enumerate(
            (
                ("label_accuracy", "pool labels correct (%, vs hidden gold)"),
                ("test_macro_f1", "small model, test macro-F1"),
            )
        ):
            ax = axes[row][col]
            for y, r in enumerate(mine):
                values = [x.metric(metric) for x in r.freeal_rounds]
                ax.plot(values, [y] * len(values), color="0.6", linewidth=1, zorder=1)
                for k, v in enumerate(values):
                    ax.scatter(
                        v,
                        y,
                        s=22,
                        zorder=2,
                        color=colours(0.75 * k / max(n_rounds - 1, 1)),
                        facecolor="white" if k == 0 else None,
                        label=f"round {k}" if y == 0 else None,
                    )
                ax.annotate(
                    f"{values[-1]:.1f}",
                    (max(values), y),
                    xytext=(5, -3),
                    textcoords="offset points",
                    fontsize=6,
                )
                if metric == "test_macro_f1":
                    sup = [s.supervised_reference.macro_f1 for s in r.freeal_per_seed]
                    ax.scatter(
                        sum(sup) / len(sup),
                        y,
                        marker="x",
                        color="black",
                        s=18,
                        zorder=2,
                        label="true pool labels" if y == 0 else None,
                    )
            ax.set_yticks(range(len(mine)), [_freeal_name(r) for r in mine] if col == 0 else [])
            ax.tick_params(axis="y", labelsize=7)
            ax.set_ylim(len(mine) - 0.5, -0.5)
            ax.set_xlim(0, 105)
            ax.grid(axis="x", alpha=0.3)
            ax.set_title(f"{dataset}: {title}", fontsize=9)
            ax.legend(fontsize=7, loc="lower right", framealpha=0.9)
    fig.tight_layout()
    return _save(fig, path)
