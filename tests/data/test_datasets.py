"""A dataset is one module: a TSV dataset added as a plugin module plus its files runs a gold
case through a task file, and what its registry entry declares (languages, label descriptions)
is checked when the task file is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.case.spec import TaskFileError
from benchmark.context import RunContext
from benchmark.data.loaders import load_split
from benchmark.runner.run import run_case
from benchmark.runner.taskfile import load_cases

DATA_DIR = Path(__file__).resolve().parents[1] / "fixtures"  # holds toy_topics/
TOY_TASK = """\
plugins: [bench_toy_dataset]
datasets: [toy-topics]
languages: [en, de]
settings: [gold]
samples_per_label: 3
seeds: 1
classifiers: [{name: embed-logreg, encoder: tiny-random}]
"""


def write(tmp_path, text, name="task.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_tsv_dataset_of_one_module_runs_a_gold_case(tmp_path):
    cases = load_cases(write(tmp_path, TOY_TASK), data_dir=DATA_DIR)  # imports the plugin
    assert [c.case_id for c in cases] == [
        "toy-topics-en-gold-n3-logreg_tiny_random",
        "toy-topics-de-gold-n3-logreg_tiny_random",
    ]
    ctx = RunContext(results_dir=tmp_path / "results", data_dir=DATA_DIR, figures=False)
    for case in cases:
        record = run_case(case, ctx)
        assert record["status"] == "ok"
        assert record["labels"] == ["animals", "food", "weather"] and record["n_test"] == 9
    german = load_split("toy-topics", "deu", "train", data_dir=DATA_DIR)
    assert german.language == "de" and german.label_counts == dict.fromkeys(
        ("animals", "food", "weather"), 4
    )


def test_a_language_the_dataset_lacks_is_a_task_file_error(tmp_path):
    text = TOY_TASK.replace("[en, de]", "[en, sw]")
    with pytest.raises(TaskFileError) as err:
        load_cases(write(tmp_path, text), check_data=False)
    message = str(err.value)
    assert "task.yaml: languages[1]: dataset 'toy-topics' has no Swahili (sw) data" in message
    assert "its languages: en, de" in message


HUMAN_TASK = """\
plugins: [bench_extension_demo, bench_toy_dataset, PLUGIN]
datasets: [DATASET]
languages: [en]
settings: [gold, SETTING]
models: [tiny-random]
samples_per_label: 3
seeds: 1
"""
HALF_DESCRIBED = """\
from dataclasses import replace

from bench_toy_dataset import TOY_TOPICS
from benchmark.data.examples import DATASETS

DESCRIBED = {"animals": "A sentence about an animal.", "food": "A sentence about a meal."}
DATASETS.add("toy-half-described", replace(TOY_TOPICS, descriptions=DESCRIBED))
"""


def human_task(tmp_path, monkeypatch, dataset, setting="human_description", extra=""):
    (tmp_path / "bench_toy_half_described.py").write_text(HALF_DESCRIBED, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    text = HUMAN_TASK.replace("PLUGIN", "bench_toy_half_described").replace("DATASET", dataset)
    return write(tmp_path, text.replace("SETTING", setting) + extra, f"{dataset}.yaml")


def test_a_missing_label_description_fails_when_the_task_file_is_read(tmp_path, monkeypatch):
    path = human_task(tmp_path, monkeypatch, "toy-half-described")
    with pytest.raises(TaskFileError) as err:
        load_cases(path, check_data=False)
    assert str(err.value) == (
        f"{path}: settings[1]: human_description shows the human-written label descriptions, "
        "but dataset 'toy-half-described' has none for label(s) 'weather' (its registry "
        "entry's `descriptions`)"
    )


def test_a_dataset_without_descriptions_fails_for_a_revision_that_shows_them(tmp_path, monkeypatch):
    extra = "generation: {revision_description: human}\n"
    path = human_task(tmp_path, monkeypatch, "pets", "target_demos_revision", extra)
    with pytest.raises(
        TaskFileError, match="dataset 'pets' has none for label\\(s\\) 'cats', 'dogs'"
    ):
        load_cases(path, check_data=False)
    described = human_task(tmp_path, monkeypatch, "toy-topics")  # every label described
    assert len(load_cases(described, check_data=False)) == 2
    summarised = human_task(tmp_path, monkeypatch, "pets", "target_demos_revision")
    assert len(load_cases(summarised, check_data=False)) == 2  # shows the summarised ones
