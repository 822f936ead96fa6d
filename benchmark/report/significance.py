"""Is a macro-F1 difference between two cases larger than their noise? A paired bootstrap.

Both cases are scored on the same gold test split, so the test items are resampled once per
replicate and shared by the two cases (paired). Each case may have several generated sets
(generation seeds), each scored with several classifier seeds: a replicate also resamples each
case's generation seeds with replacement, so the interval covers generation variance as well as
test-item sampling. Runs tagged with a gold `draw` (the gold arm: one gold sample per seed) are
resampled the same way, so gold's sampling variance counts too. When both sides have the same
generation seeds and share a generated stream (revision vs none, a selection vs the unselected
set, one case's arms; checked on the stored first-round candidates, `share_stream`) a replicate
draws the *same* seeds for both (paired on the generation seed); independent streams (different
strategies) are resampled independently. The classifier seeds of one generated set are
averaged, never resampled.

The p-value is two-sided from the bootstrap standard error (normal approximation), so it stays
informative below 1 / replicates; many comparisons are corrected with Holm-Bonferroni (`holm`)
before a difference is called significant. `detectable` is the smallest difference the design
would detect with 80% power at the (corrected) level: (z_{1-alpha/2} + z_0.8) x standard error.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from benchmark.case.generated_sets import share_stream
from benchmark.case.records import Record, as_record, case_dir

DEFAULT_REPLICATES = 2000
LEVEL = 0.95
ALPHA = 1 - LEVEL
POWER = 0.8
MULTIPLICITY_METHOD = "Holm-Bonferroni"


@dataclass(frozen=True)
class Comparison:
    """Case A minus case B in macro-F1 (x100) with its bootstrap interval."""

    diff: float
    low: float
    high: float
    p_value: float
    replicates: int
    se: float = 0.0
    paired_on_generation_seed: bool = False
    corrected: bool | None = None  # significant after correcting its family (None: not corrected)
    family_size: int = 1

    @property
    def significant(self) -> bool:
        """Significant after the family's correction when corrected, else p <= 0.05 (the test
        Holm corrects; the percentile interval may disagree at the boundary)."""
        if self.corrected is not None:
            return self.corrected
        return self.p_value <= ALPHA

    @property
    def mark(self) -> str:
        """`*` when significant (after correction, where corrected), else empty."""
        return "*" if self.significant else ""

    @property
    def detectable(self) -> float:
        """The smallest difference detected with 80% power at the family's corrected level."""
        z = NormalDist().inv_cdf(1 - ALPHA / (2 * self.family_size)) + NormalDist().inv_cdf(POWER)
        return round(z * self.se, 1)


def holm(comparisons: list[Comparison | None], *, alpha: float = ALPHA) -> list[Comparison | None]:
    """The comparisons of one family, each marked significant or not by Holm's step-down
    procedure (None entries, untested, stay None and do not count)."""
    tested = [(c.p_value, i) for i, c in enumerate(comparisons) if c is not None]
    m = len(tested)
    verdict: dict[int, bool] = {}
    rejecting = True
    for rank, (p, i) in enumerate(sorted(tested)):
        rejecting = rejecting and p <= alpha / (m - rank)
        verdict[i] = rejecting
    return [
        None if c is None else dataclasses.replace(c, corrected=verdict[i], family_size=m)
        for i, c in enumerate(comparisons)
    ]


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


def resampling_unit(run: dict[str, Any]) -> Any:
    """What a run's training data was drawn with: its generated set, or its gold draw."""
    if run.get("generation_seed") is not None:
        return ("generation_seed", run["generation_seed"])
    if run.get("draw") is not None:
        return ("draw", run["draw"])
    return None


def _set_scores(
    runs: Sequence[dict[str, Any]], score: Callable[[np.ndarray], np.ndarray]
) -> tuple[list[Any], np.ndarray]:
    """The resampling units in order and, replicates x units, `score(predicted)` of each run
    (one value per replicate) averaged over the classifier seeds of its unit."""
    groups: dict[Any, list[np.ndarray]] = {}
    for run in runs:
        scores = score(np.asarray(run["predicted"], dtype=np.int64))
        groups.setdefault(resampling_unit(run), []).append(scores)
    keys = sorted(groups, key=repr)
    return keys, np.stack([np.mean(groups[k], axis=0) for k in keys], axis=1)


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
    shared_stream: bool = True,
) -> Comparison:
    """Bootstrap the macro-F1 difference A - B over test items (paired) and generation seeds.

    Args:
        runs_a, runs_b: `{"predicted": [label index per test item], "generation_seed": g?}`.
        gold: gold label index per test item (the same test split for both cases).
        n_labels: number of labels.
        replicates: bootstrap replicates.
        seed: resampling seed (fixed: the same records always give the same marks).
        shared_stream: False when the two sides drew independent generated streams: their
            generation seeds are then resampled independently even where the seed lists match.

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

    (keys_a, set_a), (keys_b, set_b) = (
        _set_scores(runs_a, replicated),
        _set_scores(runs_b, replicated),
    )
    pick_a = rng.integers(0, set_a.shape[1], size=(replicates, set_a.shape[1]))
    paired = (
        shared_stream
        and keys_a == keys_b
        and keys_a[0] is not None
        and keys_a[0][0] == "generation_seed"
    )
    pick_b = pick_a if paired else rng.integers(0, set_b.shape[1], (replicates, set_b.shape[1]))
    rows = np.arange(replicates)[:, None]
    diffs = set_a[rows, pick_a].mean(axis=1) - set_b[rows, pick_b].mean(axis=1)
    diff = float(_set_scores(runs_a, observed)[1].mean() - _set_scores(runs_b, observed)[1].mean())
    low, high = np.quantile(diffs, [ALPHA / 2, 1 - ALPHA / 2])
    se = float(diffs.std(ddof=1))
    p_value = 1.0 if se == 0 else math.erfc(abs(diff) / se / math.sqrt(2))
    if se == 0 and diff != 0:
        p_value = 0.0
    return Comparison(
        diff=round(diff, 3),
        low=round(float(low), 3),
        high=round(float(high), 3),
        p_value=float(f"{p_value:.4g}"),
        replicates=replicates,
        se=round(se, 4),
        paired_on_generation_seed=paired,
    )


def compare_records(
    results_dir: Path, a: dict[str, Any], b: dict[str, Any], **kwargs: Any
) -> Comparison | None:
    """Paired bootstrap of record A against record B (None without stored predictions or when
    their test splits differ). Generation seeds are paired only where the two cases drew the
    same generated stream (`share_stream`); records without generated files (gold, FreeAL) pair
    on matching seeds, which fix their gold draw or unlabeled pool."""
    pa, pb = load_predictions(results_dir, a), load_predictions(results_dir, b)
    if not pa or not pb or pa["test"] != pb["test"] or pa["labels"] != pb["labels"]:
        return None
    folders = (case_dir(Path(results_dir), as_record(r).case_id) for r in (a, b))
    shared = share_stream(*folders)
    return paired_bootstrap(
        pa["runs"],
        pb["runs"],
        pa["gold"],
        len(pa["labels"]),
        shared_stream=shared is not False,
        **kwargs,
    )


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
    predictions: whether its gap to that control is significant, Holm-corrected over every
    such gap in `records` (one family)."""
    found = {}
    for record in map(as_record, records):
        if record.has_matched_gold:
            comparison = compare_with_matched_gold(results_dir, record)
            if comparison is not None:
                found[record.case_id] = comparison
    corrected = holm(list(found.values()))
    return {case_id: c.mark for case_id, c in zip(found, corrected, strict=True) if c}
