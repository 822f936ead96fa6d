"""The committed task files agree with each other: a case id shared by two files names one spec."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from benchmark.runner.taskfile import load_cases

ROOT = Path(__file__).resolve().parents[1]


def test_a_case_id_shared_by_two_task_files_has_one_spec():
    hashes: dict[str, set[str]] = defaultdict(set)
    files: dict[str, set[str]] = defaultdict(set)
    for folder in ("tasks", "baselines"):
        for path in sorted((ROOT / folder).glob("*.yaml")):
            for case in load_cases(path, check_data=False):
                hashes[case.case_id].add(case.spec_hash)
                files[case.case_id].add(path.name)
    clashes = {k: sorted(files[k]) for k, v in hashes.items() if len(v) > 1}
    assert not clashes, (
        f"same case id, different specs (each run would replace the other): {clashes}"
    )
