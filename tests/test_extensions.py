"""Extending without editing `benchmark/`: a plugin module (tests/extensions) registers a
classifier, a selector, an LLM backend and a dataset; a task file names it under `plugins:` and its cases
run through the production path."""

from __future__ import annotations

import sys

import pytest

from benchmark.case.spec import TaskFileError
from benchmark.context import RunContext
from benchmark.runner.run import run_case
from benchmark.runner.taskfile import load_cases

TASK = """\
plugins: [bench_extension_demo]
datasets: [sib200]
languages: [sw]
settings: [gold, target_demos]
models: [tiny-random]
samples_per_label: 2
seeds: 1
classifiers: [{name: word-overlap, min_count: 1}]
selections: [first_k]
selection: {pool_factor: 2, encoder: tiny-random}
generation: {backend: topic-echo, seeds: 1, demos_per_label: 2, per_request: 3, max_attempts: 3}
"""


def write(tmp_path, text):
    path = tmp_path / "task.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_plugin_classifier_selector_and_backend_run_cases(tmp_path, sib_fixture_dir):
    cases = load_cases(write(tmp_path, TASK), data_dir=sib_fixture_dir)
    assert [c.case_id for c in cases] == [
        "sib200-sw-gold-n2-overlap_min1",
        "sib200-sw-target_demos-tiny_random-n2-sel_first_k-overlap_min1",
    ]
    plugin = sys.modules["bench_extension_demo"]  # imported by load_cases, for `plugins:`
    ctx = RunContext(results_dir=tmp_path / "results", data_dir=sib_fixture_dir, figures=False)
    gold, generated = (run_case(case, ctx) for case in cases)
    assert gold["status"] == generated["status"] == "ok"
    assert gold["spec"]["classifier"] == {"name": "word-overlap", "min_count": 1}
    # the fixture's texts share their topic's words: word overlap classifies most test texts
    assert gold["scores"]["macro_f1_mean"] > 50
    assert plugin.SELECTOR_CALLS and set(plugin.SELECTOR_CALLS) == {2}
    per_label = generated["generation"]["per_label"]
    assert all(v["kept"] == 2 and v["unselected"] >= 1 for v in per_label.values())


def test_a_plugin_dataset_runs_a_gold_case(tmp_path):
    text = (
        "plugins: bench_extension_demo\ndatasets: [pets]\nlanguages: [en]\nsettings: [gold]\n"
        "samples_per_label: 4\nseeds: 1\nclassifiers: [word-overlap]\n"
    )
    (case,) = load_cases(write(tmp_path, text))
    assert case.case_id == "pets-en-gold-n4-overlap_min1"
    record = run_case(case, RunContext(results_dir=tmp_path / "results", figures=False))
    assert record["labels"] == ["cats", "dogs"] and record["n_test"] == 8
    assert record["scores"]["macro_f1_mean"] == 100.0


def test_a_plugin_classifier_validates_its_own_options(tmp_path):
    text = TASK.replace("min_count: 1", "min_cont: 2")
    with pytest.raises(TaskFileError) as err:
        load_cases(write(tmp_path, text), check_data=False)
    message = str(err.value)
    assert "classifiers[0]" in message and "did you mean 'min_count'" in message


@pytest.mark.parametrize(
    ("plugins", "key", "words"),
    [
        ("[no_such_plugin_module]", "plugins[0]", "cannot import 'no_such_plugin_module'"),
        ("{a: b}", "plugins", "expected a list"),
        ("[bench_extension_demo, 3]", "plugins[1]", "expected a module name"),
    ],
)
def test_a_bad_plugin_entry_is_a_short_task_file_error(tmp_path, plugins, key, words):
    text = TASK.replace("[bench_extension_demo]", plugins)
    with pytest.raises(TaskFileError) as err:
        load_cases(write(tmp_path, text), check_data=False)
    assert f"task.yaml: {key}: " in str(err.value) and words in str(err.value)


STRATEGY_TASK = """\
plugins: [bench_extension_demo, bench_strategy_demo]
datasets: [sib200]
languages: [sw]
settings: [demos_human, demos_human_revision]
models: [tiny-random]
samples_per_label: 2
seeds: 1
classifiers: [{name: word-overlap, min_count: 1}]
generation: {backend: topic-echo, seeds: 1, demos_per_label: 2, per_request: 3, max_attempts: 3}
"""


def test_a_plugin_strategy_runs_and_its_revision_pair_is_answered(tmp_path, sib_fixture_dir):
    from benchmark.report.summary import revision_pairs, summary_markdown

    cases = load_cases(write(tmp_path, STRATEGY_TASK), data_dir=sib_fixture_dir)
    assert [c.setting for c in cases] == ["demos_human", "demos_human_revision"]
    ctx = RunContext(results_dir=tmp_path / "results", data_dir=sib_fixture_dir, figures=False)
    plain, revised = (run_case(case, ctx) for case in cases)
    assert plain["status"] == revised["status"] == "ok"
    assert revised["generation"]["strategy"]["revision"] is True
    assert ("demos_human_revision", "demos_human") in revision_pairs()
    answer2 = summary_markdown([plain, revised], ctx.results_dir).split("**2.")[1].split("**3.")[0]
    assert "demos_human_revision vs demos_human" in answer2
