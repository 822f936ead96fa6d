"""The committed task files agree with each other: a case id shared by two files names one spec."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from benchmark.runner.taskfile import load_cases

ROOT = Path(__file__).resolve().parents[2]


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


def test_the_study_matrix_runs_the_study_models_on_vllm():
    """tasks/sib200.yaml and tasks/massive10.yaml: every strategy x the four study models on the
    vLLM backend (the backend the study timed), n=100, XLM-R fine-tuned; collected offline."""
    root = Path(__file__).resolve().parents[2]
    for name in ("sib200.yaml", "massive10.yaml"):
        cases = load_cases(root / "tasks" / name)
        generated = [c for c in cases if c.generation is not None]
        assert generated and {c.generation.backend for c in generated} == {"vllm"}
        assert {c.model for c in generated} == {
            "gemma3-4b",
            "gemma3-27b",
            "llama3-8b",
            "llama3-70b",
        }
        assert {c.samples_per_label for c in generated} == {100}
        assert {c.classifier.name for c in generated} == {"finetune"}
