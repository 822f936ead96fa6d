"""Scores (macro-F1 and accuracy, x100), seed aggregation and the confusion-matrix figure."""

from __future__ import annotations

import statistics
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmark.case.results import Scores


def score(
    gold: Sequence[str], predicted: Sequence[str], *, labels: Sequence[str]
) -> dict[str, float]:
    """Macro-F1 over `labels` and accuracy, both x100."""
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "macro_f1": 100.0
        * f1_score(gold, predicted, labels=list(labels), average="macro", zero_division=0),
        "accuracy": 100.0 * accuracy_score(gold, predicted),
    }


def aggregate(per_seed: Sequence[dict[str, float]]) -> dict[str, float]:
    """Mean and (sample) standard deviation of each metric over seeds."""
    out: dict[str, float] = {}
    for metric in per_seed[0]:
        values = [s[metric] for s in per_seed]
        out[f"{metric}_mean"] = statistics.fmean(values)
        out[f"{metric}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
    return out


def score_block(runs: list[dict[str, Any]]) -> Scores:
    """Per-run scores, their mean and std, and (with several generation seeds) the mean per
    generated set and the std over sets (the generation variance)."""
    metrics = [{k: v for k, v in r.items() if k not in ("seed", "generation_seed")} for r in runs]
    means = {k: round(v, 4) for k, v in aggregate(metrics).items()}
    by_set, spread = None, None
    sets = sorted({r["generation_seed"] for r in runs if r.get("generation_seed") is not None})
    if sets:
        by_set = []
        for g in sets:
            mine = [m for m, r in zip(metrics, runs, strict=True) if r["generation_seed"] == g]
            set_means = aggregate(mine)
            by_set.append(
                {"generation_seed": g, "macro_f1_mean": round(set_means["macro_f1_mean"], 4)}
            )
        values = [b["macro_f1_mean"] for b in by_set]
        spread = round(statistics.stdev(values) if len(values) > 1 else 0.0, 4)
    return Scores(
        per_seed=[
            {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()} for r in runs
        ],
        macro_f1_mean=means.pop("macro_f1_mean", None),
        macro_f1_std=means.pop("macro_f1_std", None),
        accuracy_mean=means.pop("accuracy_mean", None),
        accuracy_std=means.pop("accuracy_std", None),
        by_generation_seed=by_set,
        macro_f1_std_over_generation_seeds=spread,
        extra=means,  # other metrics' means (the gold arm's draws)
    )


def confusion_counts(
    gold: Sequence[str], predicted: Sequence[str], *, labels: Sequence[str]
) -> list[list[int]]:
    """Rows = gold label, columns = predicted label, in `labels` order."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(gold, predicted, labels=list(labels)).tolist()


def wrap_title(title: str, width: int = 60) -> str:
    """A title wrapped onto lines of at most `width` characters (never cut off)."""
    return "\n".join(textwrap.wrap(title, width)) or title


def save_confusion_figure(
    matrix: list[list[int]], *, labels: Sequence[str], title: str, path: Path
) -> Path:
    """Write a row-normalised confusion matrix as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    counts = np.asarray(matrix, dtype=float)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = 3.5 + 0.45 * len(labels)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the gold row")
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    if len(labels) <= 12:
        for i, j in np.ndindex(counts.shape):
            colour = "white" if rates[i, j] > 0.5 else "black"
            ax.text(j, i, int(counts[i, j]), ha="center", va="center", fontsize=6, color=colour)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    # the whole title, wrapped to the figure's width (case ids run to 120 characters)
    ax.set_title(wrap_title(title, width=int(9 * size)), fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
