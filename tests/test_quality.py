from __future__ import annotations

import numpy as np
import pytest

from benchmark.quality import (
    centroid_cosine,
    distinct_n,
    generated_set_quality,
    language_fidelity,
    mean_pairwise_cosine,
    spearman_table,
)


def test_language_fidelity_tells_languages_apart():
    swahili = [
        "Habari ya asubuhi, rafiki yangu mpendwa.",
        "Serikali imetangaza uchaguzi mkuu mwezi ujao.",
    ]
    english = ["The government announced a general election next month."]
    assert language_fidelity(swahili, "sw") == 1.0
    assert language_fidelity(swahili + english, "sw") == pytest.approx(2 / 3)
    assert language_fidelity([], "sw") == 0.0


def test_distinct_n():
    assert distinct_n(["a b c", "a b d"], 1) == pytest.approx(4 / 6)
    assert distinct_n(["a b c", "a b d"], 2) == pytest.approx(3 / 4)
    assert distinct_n(["สวัสดีครับ"], 1) > 0  # no spaces: characters


def test_embedding_metrics():
    same = np.tile(np.array([[1.0, 0.0]]), (4, 1))
    assert mean_pairwise_cosine(same) == pytest.approx(1.0)
    orth = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert mean_pairwise_cosine(orth) == pytest.approx(0.0)
    assert centroid_cosine(same, same) == pytest.approx(1.0)


def test_spearman_ranks_the_predictive_metric_first():
    rows = [{"good": i, "noise": (i * 7) % 5, "flat": 1.0, "macro_f1": 10.0 * i} for i in range(6)]
    table = spearman_table(rows, ["noise", "good", "flat"])
    assert table[0][:2] == ("good", pytest.approx(1.0))
    assert table[-1] == ("flat", None, 6)


def test_generated_set_quality_on_a_tiny_encoder():
    gold = [("the football match ended", "sports"), ("the election was held", "politics")] * 3
    generated = [
        ("a football goal today", "sports"),
        ("the minister voted", "politics"),
        ("the minister voted", "sports"),
    ]
    out = generated_set_quality(
        generated,
        language="en",
        gold=gold,
        encoder="tiny-random",
        candidates={"kept": 3, "duplicate": 1},
    )
    assert out["n"] == 3 and out["duplicate_rate"] == 0.25
    assert 0.0 <= out["label_fidelity"] <= 1.0 and -1.0 <= out["centroid_cosine_to_gold"] <= 1.0
