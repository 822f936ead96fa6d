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
