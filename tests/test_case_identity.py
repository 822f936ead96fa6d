"""Case ids and spec hashes do not change: every committed record and every committed task
file gives the ids and hashes it gave before the classifier registry.

`data/case_hashes.json` holds `case_id -> spec_hash` of every task-file case, computed on main
(64cd4bb) before the registry change.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.requality import spec_from_record
from benchmark.taskfile import load_cases

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = json.loads((Path(__file__).parent / "data" / "case_hashes.json").read_text())


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


def test_every_committed_task_file_keeps_its_case_ids_and_hashes():
    seen: dict[str, str] = {}
    for folder in ("tasks", "baselines"):
        for path in sorted((ROOT / folder).glob("*.yaml")):
            seen.update((c.case_id, c.spec_hash) for c in load_cases(path, check_data=False))
    changed = {k: (seen[k], v) for k, v in EXPECTED.items() if k in seen and seen[k] != v}
    assert not changed, list(changed.items())[:5]
    assert len(set(EXPECTED) & set(seen)) > len(EXPECTED) // 2
