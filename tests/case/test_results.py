"""The typed result blocks (benchmark/case/results.py): every committed record reads into
models and writes back byte for byte; unknown keys survive; merging generated sets sums their
counts and keeps each set's own summary."""

from __future__ import annotations

import json
from pathlib import Path

from benchmark.case.records import Record
from benchmark.case.results import (
    Arms,
    CaseGeneration,
    FreeALBlock,
    FreeALRound,
    GenerationSummary,
    MatchedGold,
    Scores,
)

RESULTS = Path(__file__).resolve().parents[2] / "leaderboard" / "results"


def as_written(payload: dict) -> str:
    """A record's JSON as `write_json_atomic` writes it."""
    return json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_every_committed_record_round_trips_byte_for_byte():
    paths = sorted(RESULTS.glob("*.json"))
    assert paths
    for path in paths:
        text = path.read_text(encoding="utf-8")
        payload = json.loads(text)
        record = Record.from_dict(payload)
        out = record.to_dict()
        assert json.dumps(out, indent=2) == json.dumps(payload, indent=2), path.name  # key order
        assert as_written(out) == text, path.name


def test_committed_records_hold_models():
    kinds = {"generation": 0, "arms": 0, "freeal": 0, "matched_gold": 0}
    for path in sorted(RESULTS.glob("*.json")):
        record = Record.from_dict(json.loads(path.read_text(encoding="utf-8")))
        assert isinstance(record.scores, Scores)
        for name, kind in (
            ("generation", CaseGeneration),
            ("arms", Arms),
            ("freeal", FreeALBlock),
            ("matched_gold", MatchedGold),
        ):
            block = getattr(record, name)
            if block is not None:
                assert isinstance(block, kind)
                kinds[name] += 1
        if record.freeal:
            assert all(isinstance(r, FreeALRound) for r in record.freeal_rounds)
            assert record.freeal_per_seed[0].final.macro_f1 is not None
    assert all(kinds.values()), kinds  # the committed records cover every block


def test_unknown_keys_and_explicit_nulls_survive_a_round_trip():
    payload = {
        "scores": {"zeta": 1, "macro_f1_mean": 50.0, "per_seed": [], "alpha": {"b": 1, "a": 2}},
        "generation": {"kept": 3, "cold": None, "new_key": [1], "runs": [{"kept": 3, "x": 0}]},
        "arms": {"demos": {"macro_f1_mean": 1.0, "odd": True}, "later": "kept"},
        "freeal": {"per_seed": [{"rounds": [{"round": 0, "novel": 2}], "final": None}]},
        "unknown_top": {"z": 1, "a": 2},
    }
    out = Record.from_dict(payload).to_dict()
    for key, block in payload.items():
        assert json.dumps(out[key]) == json.dumps(block)  # same keys, order and values
    generation = Record.from_dict(payload).generation
    assert generation.extra == {"new_key": [1]} and generation.runs[0].extra == {"x": 0}
    assert generation.has("cold") and generation.cold_throughput is None


def test_a_built_block_leaves_out_its_unset_optional_keys():
    scores = Scores(per_seed=[], macro_f1_mean=1.0, macro_f1_std=0.0)
    assert scores.to_dict() == {
        "per_seed": [],
        "macro_f1_mean": 1.0,
        "macro_f1_std": 0.0,
        "accuracy_mean": None,
        "accuracy_std": None,
    }
    assert not Scores.from_dict({}) and Scores.from_dict({}).to_dict() == {}


def summary(seed: int, kept: int, *, gates: bool = False) -> GenerationSummary:
    return GenerationSummary(
        model="m",
        seed=seed,
        per_label={"a": {"kept": kept, "rejected": 1}, "b": {"kept": 1, "rejected": seed}},
        short_labels=["b"] if seed else [],
        kept=kept + 1,
        demo_copies=1,
        rejected=1 + seed,
        parse_dropped={"z": 1, "a": seed},
        stats={"seconds": 2.0, "completion_tokens": 10, "requests": 3, "note": "x"},
        cache_hits=0,
        gates={
            "names": ["g"],
            "gated": 1,
            "dropped": {"g": 1},
            "dropped_per_label": {"a": {"g": 1}},
        }
        if gates
        else None,
    )


def test_merging_sets_sums_counts_and_keeps_each_sets_summary():
    first, second = summary(0, 4, gates=True), summary(1, 6, gates=True)
    merged = CaseGeneration.merged([first, second])
    assert merged.seed == [0, 1] and merged.sets == 2 and merged.kept_per_set == [5, 7]
    assert merged.kept == 12 and merged.rejected == 3 and merged.demo_copies == 2
    assert merged.per_label == {"a": {"kept": 10, "rejected": 2}, "b": {"kept": 2, "rejected": 1}}
    assert merged.parse_dropped == {"a": 1, "z": 2}
    assert merged.stats == {"seconds": 4.0, "completion_tokens": 20, "requests": 6}
    assert merged.samples_per_second == 3.0 and merged.tokens_per_second == 5.0
    assert merged.short_labels == ["b"]
    assert merged.gates["gated"] == 2 and merged.gates["dropped_per_label"] == {"a": {"g": 2}}
    assert merged.runs == [first, second] and merged.set_summaries == [first, second]
    assert merged.to_dict()["runs"] == [first.to_dict(), second.to_dict()]  # no lost counts
    assert first.per_label["a"]["kept"] == 4  # the sets' own counts are untouched


def test_a_single_set_is_its_own_case_block():
    only = summary(0, 4)
    merged = CaseGeneration.merged([only])
    assert merged.sets == 1 and merged.kept_per_set == [5] and merged.runs is None
    written = merged.to_dict()
    assert "runs" not in written and "gates" not in written
    assert {k: v for k, v in written.items() if k not in ("sets", "kept_per_set", "cold")} == (
        only.to_dict()
    )
    assert merged.set_summaries == [merged]


def test_cold_throughput_of_blocks_with_and_without_cold_figures():
    fresh = CaseGeneration.merged([summary(0, 4)])
    assert fresh.cold_throughput is None and fresh.to_dict()["cold"] is None  # not set yet
    cold = fresh.replace(cold=fresh.throughput)
    assert cold.cold_throughput == fresh.throughput
    assert cold.to_dict()["cold"] == {
        "samples_per_second": None,
        "stats": fresh.stats,
        "tokens_per_second": None,
    }
    old = CaseGeneration.from_dict({"kept": 3, "cache_hits": 0, "stats": {"seconds": 1}})
    assert old.cold_throughput.stats == {"seconds": 1}  # before `cold`: the block itself
    assert old.replace(cache_hits=2).cold_throughput is None  # from the cache: no figures
    assert "cold" not in old.to_dict()
