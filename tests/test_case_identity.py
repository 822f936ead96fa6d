"""Case ids and spec hashes do not change: every committed record rebuilds the id, classifier
slug and hash it was written with (task files: tests/test_task_includes.py and its fixture)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.requality import spec_from_record

ROOT = Path(__file__).resolve().parents[1]


def test_every_committed_record_keeps_its_case_id_slug_and_hash():
    records = sorted((ROOT / "leaderboard" / "results").glob("*.json"))
    if not records:
        pytest.skip("no committed records")
    wrong = []
    for path in records:
        record = json.loads(path.read_text(encoding="utf-8"))
        spec = spec_from_record(record)
        got = (spec.case_id, spec.classifier_slug, spec.spec_hash)
        stored = (record["case_id"], record["spec"]["classifier_slug"], record["spec_hash"])
        if got != stored:
            wrong.append((path.name, got, stored))
    assert not wrong, wrong[:5]
