from __future__ import annotations

import numpy as np
import pytest

from benchmark.selection import (
    SELECTORS,
    cartography,
    label_consistency,
    select_kcenter,
    select_kcenter_naive,
)


def unit(rows):
    rows = np.asarray(rows, dtype=float)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.fixture
def pool():
    rng = np.random.default_rng(0)
    return unit(rng.normal(size=(200, 16)))


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_every_selector_returns_k_distinct_valid_indices(name, pool):
    gold = pool[:5]
    picked = SELECTORS.get(name)(pool, 20, seed=1, gold=gold)
    assert len(picked) == 20 and len(set(picked.tolist())) == 20
    assert picked.min() >= 0 and picked.max() < len(pool)
    assert len(SELECTORS.get(name)(pool, 500, seed=1, gold=gold)) == len(
        pool
    )  # k capped at the pool


def test_kcenter_matches_the_naive_recompute(pool):
    for metric in ("cosine", "euclidean"):
        fast = select_kcenter(pool, 30, seed=3, metric=metric)
        slow = select_kcenter_naive(pool, 30, seed=3, metric=metric)
        assert fast.tolist() == slow.tolist()


def test_kcenter_covers_separated_clusters():
    centres = unit(np.eye(4))
    rng = np.random.default_rng(1)
    pool = unit(np.repeat(centres, 25, axis=0) + 0.05 * rng.normal(size=(100, 4)))
    picked = select_kcenter(pool, 4, seed=0)
    assert sorted({int(i) // 25 for i in picked}) == [0, 1, 2, 3]


def test_outliers_and_reverse_outliers_are_opposite_ends():
    pool = unit([[1, 0], [0.99, 0.1], [0.98, 0.2], [0, 1]])
    assert SELECTORS.get("outliers")(pool, 1, seed=0).tolist() == [3]
    assert 3 not in SELECTORS.get("reverse_outliers")(pool, 2, seed=0).tolist()


def test_max_gold_similarity_prefers_items_near_gold():
    pool = unit([[1, 0], [0, 1], [0.9, 0.1]])
    gold = unit([[0, 1]])
    assert SELECTORS.get("max_gold_similarity")(pool, 1, seed=0, gold=gold).tolist() == [1]
    with pytest.raises(ValueError, match="gold"):
        SELECTORS.get("max_gold_similarity")(pool, 1, seed=0)


def test_seeded_selectors_are_reproducible(pool):
    for name in ("random", "lightweight_coreset", "adaptive_threshold", "kcenter"):
        assert (
            SELECTORS.get(name)(pool, 10, seed=7).tolist()
            == SELECTORS.get(name)(pool, 10, seed=7).tolist()
        )


def test_cartography_separates_easy_from_mislabelled():
    rng = np.random.default_rng(0)
    a = unit(np.array([1.0, 0.0]) + 0.1 * rng.normal(size=(30, 2)))
    b = unit(np.array([0.0, 1.0]) + 0.1 * rng.normal(size=(30, 2)))
    vectors = np.vstack([a, b])
    labels = ["a"] * 30 + ["b"] * 30
    labels[0] = "b"  # a planted label error
    confidence, variability = cartography(vectors, labels, seed=0)
    assert confidence[0] < np.median(confidence)  # the mislabelled sample is hard
    assert variability.shape == confidence.shape


def test_label_consistency_zeroes_samples_gold_disagrees_with():
    gold = unit([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]])
    pool = unit([[1, 0.05], [0.05, 1]])
    scores = label_consistency(pool, ["a", "a"], gold=gold, gold_labels=["a", "a", "b", "b"])
    assert scores[0] > 0.5 and scores[1] == 0.0
