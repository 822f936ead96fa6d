"""The paired bootstrap: agrees with sklearn's macro-F1, finds real differences, not noise."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

from benchmark.report.significance import bootstrap_macro_f1, paired_bootstrap


def test_bootstrap_macro_f1_with_unit_weights_is_sklearns():
    rng = np.random.default_rng(1)
    gold, predicted = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    ours = bootstrap_macro_f1(gold, predicted, np.ones((1, 200)), 4)[0]
    expected = 100 * f1_score(gold, predicted, labels=range(4), average="macro", zero_division=0)
    assert abs(ours - expected) < 1e-9


def noisy(gold, accuracy, rng, k):
    out = gold.copy()
    flip = rng.random(len(gold)) > accuracy
    out[flip] = rng.integers(0, k, flip.sum())
    return out


def test_a_clear_difference_is_significant_and_noise_is_not():
    rng = np.random.default_rng(0)
    k, gold = 5, rng.integers(0, 5, 400)
    good = [{"generation_seed": g, "predicted": noisy(gold, 0.9, rng, k)} for g in range(3)]
    bad = [{"generation_seed": g, "predicted": noisy(gold, 0.6, rng, k)} for g in range(3)]
    same = [{"generation_seed": g, "predicted": noisy(gold, 0.9, rng, k)} for g in range(3)]
    clear = paired_bootstrap(good, bad, gold, k, replicates=500)
    assert clear.significant and clear.diff > 20 and clear.p_value < 0.01
    tie = paired_bootstrap(good, same, gold, k, replicates=500)
    assert not tie.significant and tie.low < 0 < tie.high


def test_generation_spread_widens_the_interval():
    rng = np.random.default_rng(2)
    k, gold = 4, rng.integers(0, 4, 300)
    steady = [{"generation_seed": g, "predicted": noisy(gold, 0.8, rng, k)} for g in range(3)]
    shaky = [
        {"generation_seed": g, "predicted": noisy(gold, acc, rng, k)}
        for g, acc in enumerate((0.95, 0.8, 0.65))
    ]
    base = [{"generation_seed": 0, "predicted": noisy(gold, 0.8, rng, k)}]
    narrow = paired_bootstrap(steady, base, gold, k, replicates=500)
    wide = paired_bootstrap(shaky, base, gold, k, replicates=500)
    assert (wide.high - wide.low) > 1.5 * (narrow.high - narrow.low)


def reference_bootstrap(runs_a, runs_b, gold, k, replicates, seed=0):
    """The interval drawn from scratch, without the shared replicate and run caches."""
    from benchmark.report.significance import _set_scores

    gold = np.asarray(gold)

    rng = np.random.default_rng(seed)
    n = len(gold)
    draws = rng.integers(0, n, size=(replicates, n))
    weights = np.zeros((replicates, n))
    np.add.at(weights, (np.arange(replicates)[:, None], draws), 1.0)
    set_a, set_b = (
        _set_scores(r, lambda p: bootstrap_macro_f1(gold, p, weights, k))[1]
        for r in (runs_a, runs_b)
    )
    pick_a = rng.integers(0, set_a.shape[1], size=(replicates, set_a.shape[1]))
    pick_b = rng.integers(0, set_b.shape[1], size=(replicates, set_b.shape[1]))
    rows = np.arange(replicates)[:, None]
    diffs = set_a[rows, pick_a].mean(axis=1) - set_b[rows, pick_b].mean(axis=1)
    return np.quantile(diffs, [0.025, 0.975])


def test_cached_replicates_give_the_interval_drawn_from_scratch():
    rng = np.random.default_rng(3)
    k, gold = 4, rng.integers(0, 4, 250)
    a = [{"generation_seed": g, "predicted": noisy(gold, 0.7, rng, k)} for g in range(3)]
    b = [{"generation_seed": g, "predicted": noisy(gold, 0.65, rng, k)} for g in range(2)]
    for _ in range(2):  # the second call is served from the caches
        ours = paired_bootstrap(a, b, gold, k, replicates=300)
        low, high = reference_bootstrap(a, b, gold, k, 300)
        assert (ours.low, ours.high) == (round(float(low), 3), round(float(high), 3))


def test_sets_sharing_a_generated_stream_are_paired_on_the_generation_seed():
    """Revision that kept every sample: the identical sets give 0 with a zero-width interval
    (unpaired resampling of the seeds gave [-7.8, +8.3] for this on the leaderboard)."""
    rng = np.random.default_rng(5)
    k, gold = 4, rng.integers(0, 4, 200)
    a = [{"generation_seed": g, "predicted": noisy(gold, 0.3 + 0.2 * g, rng, k)} for g in range(3)]
    same = paired_bootstrap(a, [dict(r) for r in a], gold, k, replicates=300)
    assert same.paired_on_generation_seed
    assert (same.diff, same.low, same.high) == (0.0, 0.0, 0.0) and not same.significant
    gold_draws = [{"draw": d, "predicted": r["predicted"]} for d, r in enumerate(a)]
    unpaired = paired_bootstrap(a, gold_draws, gold, k, replicates=300)
    assert not unpaired.paired_on_generation_seed and unpaired.high - unpaired.low > 1.0


def test_holm_keeps_only_what_survives_the_family():
    from benchmark.report.significance import Comparison, holm

    def c(p):
        return Comparison(diff=1.0, low=0.1, high=2.0, p_value=p, replicates=2000, se=0.5)

    family = [c(0.001), c(0.03), c(0.04), None]  # 0.03 > 0.05 / 2: the step-down stops
    marked = holm(family)
    assert [x.significant if x else None for x in marked] == [True, False, False, None]
    assert all(x.family_size == 3 for x in marked if x)
    assert [x.significant for x in holm([c(0.01), c(0.02)])] == [True, True]  # 0.01<=0.025
    assert c(0.02).significant  # uncorrected: p <= 0.05
    boundary = Comparison(diff=7.5, low=0.004, high=15.2, p_value=0.0543, replicates=2000, se=3.9)
    assert not boundary.significant  # the interval grazes 0 but p > 0.05: not significant
    assert holm([c(0.001)])[0].detectable < marked[0].detectable  # larger family, larger bar
