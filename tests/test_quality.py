from __future__ import annotations

import numpy as np
import pytest

from benchmark.quality import (
    QUALITY_METRICS,
    centroid_cosine,
    distinct_n,
    frechet_distance,
    generated_set_quality,
    label_error_rate,
    language_fidelity,
    likely_label_errors,
    mean_pairwise_cosine,
    spearman_table,
)
from benchmark.report.leaderboard import quality_tables


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
    assert out["label_error_rate"] is None  # 'politics' has one sample: one class left
    assert out["frechet_to_gold"] >= 0.0


def _clusters(n_per_class: int, n_classes: int = 4, dim: int = 16, seed: int = 0):
    """Well separated Gaussian clusters (centres 4 apart per axis, noise sd 0.5)."""
    rng = np.random.default_rng(seed)
    centres = 4.0 * np.eye(n_classes, dim)
    y = np.repeat(np.arange(n_classes), n_per_class)
    return centres[y] + rng.normal(scale=0.5, size=(len(y), dim)), y


def test_label_error_rate_finds_planted_flips():
    x, y = _clusters(50)
    rng = np.random.default_rng(1)
    flipped = rng.choice(len(y), size=len(y) // 10, replace=False)  # 10% planted errors
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + rng.integers(1, 4, size=len(flipped))) % 4
    labels = [f"class{c}" for c in noisy]
    assert label_error_rate(x, [f"class{c}" for c in y]) <= 0.02  # clean: (almost) nothing
    flagged, assessed = likely_label_errors(x, labels)
    assert assessed.all()
    planted = np.zeros(len(y), dtype=bool)
    planted[flipped] = True
    assert (flagged & planted).sum() >= 0.8 * planted.sum()  # most of the 20 flips found
    assert (flagged & ~planted).sum() <= 3  # few false positives
    assert label_error_rate(x, labels) == pytest.approx(flagged.mean())


def test_label_error_rate_degenerate_input():
    x, y = _clusters(3, n_classes=2, dim=4)
    assert label_error_rate(np.zeros((0, 4)), []) is None
    assert label_error_rate(x, ["only"] * len(x)) is None  # one class
    assert label_error_rate(x[:2], ["a", "b"]) is None  # every class a singleton
    # a singleton class is left out; two classes of 2 samples still give a (2-fold) rate
    rate = label_error_rate(x[[0, 1, 3, 4, 2]], ["a", "a", "b", "b", "c"])
    assert rate is not None and 0.0 <= rate <= 1.0
    flagged, assessed = likely_label_errors(x[[0, 1, 3, 4, 2]], ["a", "a", "b", "b", "c"])
    assert assessed.tolist() == [True, True, True, True, False] and not flagged[4]


def test_frechet_distance():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(40, 8))
    b = rng.normal(size=(40, 8))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-6)
    shifts = [frechet_distance(a, b + s) for s in (0.0, 0.5, 1.0, 2.0)]
    assert shifts == sorted(shifts) and shifts[-1] > shifts[0] + 8 * 3.0  # ||shift||^2 = 32
    # fewer samples than dimensions: the ridge keeps it finite, still 0 for identical sets
    small = rng.normal(size=(5, 30))
    assert frechet_distance(small, small) == pytest.approx(0.0, abs=1e-5)
    assert frechet_distance(small, small + 1.0) == pytest.approx(30.0, rel=1e-3)
    assert frechet_distance(a[:1], b) is None


def _record(case_id: str, quality: dict, f1: float) -> dict:
    spec = {
        "dataset": "sib200",
        "language": "sw",
        "setting": "target_demos",
        "model": case_id,
        "samples_per_label": 10,
        "selection": None,
        "augmentation": None,
    }
    return {"case_id": case_id, "spec": spec, "quality": quality, "scores": {"macro_f1_mean": f1}}


def test_quality_table_blank_for_records_without_the_new_metrics():
    old = {m: 0.5 for m in QUALITY_METRICS if m not in ("label_error_rate", "frechet_to_gold")}
    records = [_record(f"old{i}", {**old, "distinct_1": i / 10}, 50.0 + i) for i in range(3)]
    records += [
        _record(f"new{i}", {**old, "label_error_rate": 0.1 * i, "frechet_to_gold": 0.25}, 60.0 - i)
        for i in range(4)
    ]
    text = quality_tables(records, min_spearman_cases=4)
    header = next(line for line in text.splitlines() if line.startswith("| case"))
    assert "label_error_rate" in header and "frechet_to_gold" in header
    old_row = next(
        line for line in text.splitlines() if line.startswith("| sw · target_demos · old0 ")
    )
    cells = [c.strip() for c in old_row.strip("|").split("|")]
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert cells[columns.index("label_error_rate")] == ""
    assert cells[columns.index("frechet_to_gold")] == ""
    new_row = next(line for line in text.splitlines() if "· new1 " in line)
    assert "| 0.10 " in new_row and "| 0.250 " in new_row
    corr_part = text.split("### ")[1].split("### ")[0]
    corr = {
        line.split("|")[1].strip(): line.split("|")[2:4]
        for line in corr_part.splitlines()
        if line.startswith("| ") and not line.startswith("| metric")
    }
    assert corr["label_error_rate"][1].strip() == "4"  # the old records are skipped
    assert float(corr["label_error_rate"][0]) == pytest.approx(-1.0)
    assert "frechet_to_gold" not in corr  # constant: rho undefined, the row is left out ...
    assert "frechet_to_gold (4 cases)" in corr_part  # ... and named below the table
    assert corr["distinct_1"][1].strip() == "7"


def test_spearman_rows_need_enough_cases():
    quality = {m: 0.5 for m in QUALITY_METRICS}
    records = [_record(f"m{i}", {**quality, "distinct_1": i / 10}, 50.0 + i) for i in range(7)]
    corr_part = quality_tables(records, min_spearman_cases=8).split("### ")[1].split("### ")[0]
    assert "| distinct_1 |" not in corr_part  # rho is defined, but 7 cases < 8
    assert "distinct_1 (7 cases)" in corr_part
