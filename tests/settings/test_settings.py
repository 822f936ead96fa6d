"""Settings: the registry, the record each setting writes, and a setting from outside
`benchmark/` run through the production runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from extensions.echo_setting import EchoSetting

from benchmark.case.records import Record
from benchmark.case.spec import CaseSpec
from benchmark.classifiers.embed_logreg import EmbedLogregSpec
from benchmark.context import RunContext
from benchmark.data.loaders import load_split
from benchmark.registry import UnknownNameError
from benchmark.runner.run import run_case
from benchmark.runner.taskfile import load_cases
from benchmark.settings import SETTINGS, setting_of
from benchmark.strategies import STRATEGIES

ROOT = Path(__file__).resolve().parents[2]


def test_registry_holds_gold_the_strategies_and_freeal_in_their_order():
    names = SETTINGS.names()
    assert names[: len(STRATEGIES) + 2] == ["gold", *STRATEGIES, "freeal"]


def test_settings_say_what_they_need():
    gold, freeal = setting_of("gold"), setting_of("freeal")
    generated = [setting_of(name) for name in STRATEGIES]
    assert (gold.calls_llm, gold.llm_writes_data, gold.baseline) == (False, False, True)
    assert all(s.calls_llm and s.llm_writes_data and not s.baseline for s in generated)
    assert freeal.calls_llm and not freeal.llm_writes_data and freeal.trains_own_model
    assert [s.name for s in generated] == list(STRATEGIES)


def test_unknown_setting_names_close_matches():
    with pytest.raises(UnknownNameError, match="did you mean 'target_demos'"):
        setting_of("target_demo")


def spec_for(setting: str, n: int = 2) -> CaseSpec:
    return CaseSpec(
        dataset="sib200",
        language="sw",
        setting=setting,
        model=None,
        samples_per_label=n,
        gold_sampling="at_most",
        seeds=(0, 1),
        classifier=EmbedLogregSpec(encoder="tiny-random").model_dump(),
        generation=None,
    )


def test_a_setting_from_its_own_module_runs_through_the_runner(tmp_path, sib_fixture_dir):
    assert isinstance(setting_of("echo"), EchoSetting)
    ctx = RunContext(results_dir=tmp_path / "results", data_dir=sib_fixture_dir, figures=False)
    record = run_case(spec_for("echo"), ctx)
    train = load_split("sib200", "sw", "train", data_dir=sib_fixture_dir)
    assert record["spec"]["setting"] == "echo"
    assert record["train_label_counts"] == {label: 2 for label in train.label_counts}
    assert record["data"]["train"]["rule"] == "first k per label"
    seen: dict[str, int] = {}
    expected = []
    for e in train.examples:
        seen[e.label] = seen.get(e.label, 0) + 1
        if seen[e.label] <= 2:
            expected.append(e.uid)
    assert record["echo"]["uids"] == expected
    assert "matched_gold" not in record and len(record["scores"]["per_seed"]) == 2
    saved = json.loads((tmp_path / "results" / f"{record['case_id']}.json").read_text())
    assert saved == record


def test_a_task_file_names_the_new_setting(tmp_path, sib_fixture_dir):
    task = tmp_path / "echo.yaml"
    task.write_text(
        "datasets: [sib200]\nlanguages: [sw]\nsettings: [echo, gold]\nsamples_per_label: 2\n"
        "seeds: 1\nclassifiers: [{name: embed-logreg, encoder: tiny-random}]\n"
    )
    echo, gold = load_cases(task, data_dir=sib_fixture_dir)
    assert echo.case_id == gold.case_id.replace("-gold-", "-echo-")
    assert echo.model is None and echo.generation is None


def test_record_round_trips_with_keys_it_has_no_field_for():
    payload = {
        "record_version": 2,
        "case_id": "x",
        "spec_hash": "h",
        "status": "ok",
        "spec": {"setting": "gold"},
        "labels": ["a", "b"],
        "train_label_counts": {"a": 1, "b": 1},
        "n_train": 2,
        "n_test": 3,
        "scores": {"macro_f1_mean": 50.0},
        "fits": [],
        "data": {},
        "generation": None,
        "timings": {},
        "environment": {},
        "finished_at": "",
        "old_key": 1,
    }
    record = Record.from_dict(payload)
    assert record.setting == "gold" and record.macro_f1 == 50.0
    assert record.to_dict() == payload
