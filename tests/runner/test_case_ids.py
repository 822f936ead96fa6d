"""Every committed record reproduces its case id, classifier slug and spec hash and round-trips
through `Record` (task files: tests/runner/test_task_includes.py and its fixture)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.case.records import Record, load_record
from benchmark.runner.quality_backfill import spec_from_record

ROOT = Path(__file__).resolve().parents[2]
RECORDS = sorted((ROOT / "leaderboard" / "results").glob("*.json"))


@pytest.mark.skipif(not RECORDS, reason="no committed records")
def test_every_committed_record_reproduces_its_id_and_hash_and_round_trips():
    for path in RECORDS:
        payload = load_record(path)
        spec = spec_from_record(payload)
        got = (spec.case_id, spec.classifier_slug, spec.spec_hash)
        stored = (payload["case_id"], payload["spec"]["classifier_slug"], payload["spec_hash"])
        assert got == stored, path
        assert Record.from_dict(payload).to_dict() == payload, path
