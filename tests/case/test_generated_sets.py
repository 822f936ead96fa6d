"""Which records drew the same generated stream, and so may be paired on the generation seed."""

from __future__ import annotations

import json

import numpy as np

from benchmark.case.generated_sets import share_stream
from benchmark.report.significance import compare_records
from tests.report.test_summary import write_case


def write_set(folder, seed, rows):
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps({"label": label, "text": text, "round": rnd, "status": status})
        for label, text, rnd, status in rows
    ]
    (folder / f"generated-seed{seed}.jsonl").write_text("\n".join(lines) + "\n")


STREAM = [("a", "eins", 0, "kept"), ("a", "zwei", 0, "surplus"), ("b", "drei", 0, "kept")]


def test_revision_and_selection_share_the_stream_they_filter(tmp_path):
    plain, revised, selected = tmp_path / "plain", tmp_path / "revised", tmp_path / "selected"
    write_set(plain, 0, STREAM)
    # the reviser rejected one first-round candidate and asked for a replacement in round 1
    write_set(revised, 0, [*STREAM[:2], ("b", "drei", 0, "rejected"), ("b", "vier", 1, "kept")])
    write_set(selected, 0, [*STREAM, ("b", "fünf", 0, "unselected")])  # a larger pool
    assert share_stream(plain, revised) is True
    assert share_stream(selected, plain) is True


def test_different_or_missing_streams_are_not_paired(tmp_path):
    plain, other, gold = tmp_path / "plain", tmp_path / "other", tmp_path / "gold"
    write_set(plain, 0, STREAM)
    write_set(plain, 1, STREAM)
    write_set(other, 0, STREAM)
    write_set(other, 1, [("a", "anders", 0, "kept"), *STREAM[1:]])  # one set differs
    assert share_stream(plain, other) is False
    gold.mkdir()
    assert share_stream(plain, gold) is None  # no generated files: the seeds decide


def test_records_pair_on_the_generation_seed_only_when_their_streams_match(tmp_path):
    rng = np.random.default_rng(1)
    gold = rng.integers(0, 4, 200)
    results = tmp_path / "results"
    records = {}
    for setting in ("target_demos", "target_demos_revision", "english_demos"):
        records[setting] = write_case(results, setting, 0.6, 0.9, rng, gold)
        for g in range(3):
            own = [("a", f"{setting} {g}", 0, "kept")] if setting == "english_demos" else STREAM
            write_set(results / records[setting]["case_id"], g, own)
    revised = compare_records(results, records["target_demos_revision"], records["target_demos"])
    english = compare_records(results, records["english_demos"], records["target_demos"])
    assert revised.paired_on_generation_seed
    assert not english.paired_on_generation_seed
