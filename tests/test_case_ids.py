"""Case ids and spec hashes stay what they were: for every case of the committed task files
(snapshot in tests/fixtures/case_ids.json) and for every committed record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.records import Record, load_record
from benchmark.requality import spec_from_record
from benchmark.taskfile import load_cases

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = json.loads((ROOT / "tests" / "fixtures" / "case_ids.json").read_text())
TASK_FILES = sorted([*(ROOT / "tasks").glob("*.yaml"), *(ROOT / "baselines").glob("*.yaml")])
RECORDS = sorted((ROOT / "leaderboard" / "results").glob("*.json"))


def test_every_committed_case_keeps_its_id_and_hash():
    cases = {c.case_id: c.spec_hash for p in TASK_FILES for c in load_cases(p, check_data=False)}
    assert set(SNAPSHOT) <= set(cases), "cases of the committed task files disappeared"
    assert {cid: cases[cid] for cid in SNAPSHOT} == SNAPSHOT


@pytest.mark.skipif(not RECORDS, reason="no committed records")
def test_every_committed_record_reproduces_its_id_and_hash_and_round_trips():
    for path in RECORDS:
        payload = load_record(path)
        spec = spec_from_record(payload)
        assert (spec.case_id, spec.spec_hash) == (payload["case_id"], payload["spec_hash"]), path
        assert Record.from_dict(payload).to_dict() == payload, path
