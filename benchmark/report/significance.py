"""Is a macro-F1 difference between two cases larger than their noise? A paired bootstrap.

Both cases are scored on the same gold test split, so the test items are resampled once per
replicate and shared by the two cases (paired). Each case may have several generated sets
(generation seeds), each scored with several classifier seeds: a replicate also resamples each
case's generation seeds with replacement, so the interval covers generation variance as well as
test-item sampling. The classifier seeds of one generated set are averaged, never resampled.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.case.records import Record, as_record

DEFAULT_REPLICATES = 2000
LEVEL = 0.95


@dataclass(frozen=True)
class Comparison:
    """Case A minus case B in macro-F1 (x100) with its bootstrap interval."""

    diff: float
    low: float
    high: float
    p_value: float
    replicates: int

    @property
    def significant(self) -> bool:
        """The 95% interval excludes 0."""
        return self.low > 0 or self.high < 0

    @property
    def mark(self) -> str:
        """`*` when significant at 95%, else empty."""
        return "*" if self.significant else ""


def load_predictions(results_dir: Path, record: Record | dict[str, Any]) -> dict[str, Any] | None:
    """The stored test predictions of a record (None for records written before they were)."""
    relative = as_record(record).predictions
    if not relative:
        return None
    path = Path(results_dir) / relative
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _one_hot(indices: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((len(indices), k))
    out[np.arange(len(indices)), indices] = 1.0
    return out


def bootstrap_macro_f1(
    gold: np.ndarray, predicted: np.ndarray, weights: np.ndarray, k: int
) -> np.ndarray:
    """Macro-F1 (x100, every label counted, 0 where undefined) of one run under each row of
    `weights` (replicates x items: how often each test item was drawn)."""
    g, p = _one_hot(gold, k), _one_hot(predicted, k)
    tp = weights @ (g * p)
    denominator = weights @ g + weights @ p
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return 100.0 * f1.mean(axis=1)


def _set_scores(
    runs: Sequence[dict[str, Any]], score: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Replicates x generated sets: `score(predicted)` of each run (one value per replicate),
    averaged over the classifier seeds of its generated set."""
    groups: dict[Any, list[np.ndarray]] = {}
    for run in runs:
        scores = score(np.asarray(run["predicted"], dtype=np.int64))
        groups.setdefault(run.get("generation_seed"), []).append(scores)
    return np.stack([np.mean(g, axis=0) for g in groups.values()], axis=1)


@functools.lru_cache(maxsize=4)
def _resampling(n: int, replicates: int, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    """The test-item weights of every replicate and the generator's state after drawing them
    (the same for every comparison on a split of n items: computed once)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(replicates, n))
    weights = np.zeros((replicates, n))
    np.add.at(weights, (np.arange(replicates)[:, None], draws), 1.0)
    weights.flags.writeable = False
    return weights, rng.bit_generator.state


@functools.lru_cache(maxsize=4096)
def _cached_run_scores(
    gold: bytes, predicted: bytes, k: int, replicates: int, seed: int
) -> np.ndarray:
    """`bootstrap_macro_f1` of one run under the shared replicates (a run takes part in many
    comparisons; its replicate scores are computed once)."""
    gold_arr, predicted_arr = (
        np.frombuffer(gold, dtype=np.int64),
        np.frombuffer(predicted, dtype=np.int64),
    )
    weights, _ = _resampling(len(gold_arr), replicates, seed)
    return bootstrap_macro_f1(gold_arr, predicted_arr, weights, k)


def paired_bootstrap(
    runs_a: Sequence[dict[str, Any]],
    runs_b: Sequence[dict[str, Any]],
    gold: Sequence[int],
    n_labels: int,
    *,
    replicates: int = DEFAULT_REPLICATES,
    seed: int = 0,
) -> Comparison:
    """Bootstrap the macro-F1 difference A - B over test items (paired) and generation seeds.

    Args:
        runs_a, runs_b: `{"predicted": [label index per test item], "generation_seed": g?}`.
        gold: gold label index per test item (the same test split for both cases).
        n_labels: number of labels.
        replicates: bootstrap replicates.
        seed: resampling seed (fixed: the same records always give the same marks).

    Returns:
        The observed difference, its 95% percentile interval and a two-sided p-value.
    """
    gold_arr = np.asarray(gold, dtype=np.int64)
    n, gold_key = len(gold_arr), gold_arr.tobytes()
    _, state = _resampling(n, replicates, seed)
    rng = np.random.default_rng(seed)
    rng.bit_generator.state = state

    def replicated(predicted: np.ndarray) -> np.ndarray:
        return _cached_run_scores(gold_key, predicted.tobytes(), n_labels, replicates, seed)

    def observed(predicted: np.ndarray) -> np.ndarray:
        return bootstrap_macro_f1(gold_arr, predicted, np.ones((1, n)), n_labels)

    set_a, set_b = _set_scores(runs_a, replicated), _set_scores(runs_b, replicated)
    pick_a = rng.integers(0, set_a.shape[1], size=(replicates, set_a.shape[1]))
    pick_b = rng.integers(0, set_b.shape[1], size=(replicates, set_b.shape[1]))
    rows = np.arange(replicates)[:, None]
    diffs = set_a[rows, pick_a].mean(axis=1) - set_b[rows, pick_b].mean(axis=1)
    diff = float(_set_scores(runs_a, observed).mean() - _set_scores(runs_b, observed).mean())
    alpha = (1 - LEVEL) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    tail = min((diffs <= 0).mean(), (diffs >= 0).mean())
    return Comparison(
        diff=round(diff, 3),
        low=round(float(low), 3),
        high=round(float(high), 3),
        p_value=round(float(min(1.0, 2 * tail)), 4),
        replicates=replicates,
    )


def compare_records(
    results_dir: Path, a: dict[str, Any], b: dict[str, Any], **kwargs: Any
) -> Comparison | None:
    """Paired bootstrap of record A against record B (None without stored predictions or when
    their test splits differ)."""
    pa, pb = load_predictions(results_dir, a), load_predictions(results_dir, b)
    if not pa or not pb or pa["test"] != pb["test"] or pa["labels"] != pb["labels"]:
        return None
    return paired_bootstrap(pa["runs"], pb["runs"], pa["gold"], len(pa["labels"]), **kwargs)


def compare_with_matched_gold(
    results_dir: Path, record: dict[str, Any], **kwargs: Any
) -> Comparison | None:
    """The case against its own matched gold control (same counts, same classifier seeds)."""
    stored = load_predictions(results_dir, record)
    if not stored or not stored.get("matched_gold"):
        return None
    return paired_bootstrap(
        stored["runs"], stored["matched_gold"], stored["gold"], len(stored["labels"]), **kwargs
    )


def matched_marks(results_dir: Path, records: Sequence[Record | dict[str, Any]]) -> dict[str, str]:
    """Case id -> `*` (or "") for every record with a matched gold control and stored
    predictions: whether its gap to that control is significant."""
    marks = {}
    for record in map(as_record, records):
        if record.has_matched_gold:
            comparison = compare_with_matched_gold(results_dir, record)
            if comparison is not None:
                marks[record.case_id] = comparison.mark
    return marks
