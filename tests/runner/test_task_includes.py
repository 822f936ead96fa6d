"""Task-file `include:`: shared YAML merged under a task file, with errors naming the right file."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from benchmark.case.spec import TaskFileError
from benchmark.case.taskyaml import read_task_yaml, read_yaml
from benchmark.plugin import is_shared_yaml
from benchmark.runner.taskfile import load_cases

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "task_case_hashes.json"

SHARED = """
datasets: [sib200]
languages: [sw, en]
settings: [gold]
samples_per_label: 4
seeds: 2
classifiers: [embed-logreg]
generation: {max_attempts: 4, backend_options: {n_threads: 1, n_parallel: 4}}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def error_for(path: Path) -> str:
    with pytest.raises(TaskFileError) as err:
        load_cases(path, check_data=False)
    return str(err.value)


def test_including_file_wins_mappings_merge_and_lists_are_replaced(tmp_path):
    write(tmp_path, "_defaults/shared.yaml", SHARED)
    task = write(
        tmp_path,
        "task.yaml",
        """
        include: _defaults/shared.yaml
        languages: [cy]
        generation: {backend_options: {n_threads: 2}}
        """,
    )
    raw, _ = read_task_yaml(task)
    assert raw["languages"] == ["cy"]
    assert raw["datasets"] == ["sib200"]
    assert raw["generation"] == {
        "max_attempts": 4,
        "backend_options": {"n_threads": 2, "n_parallel": 4},
    }
    assert "include" not in raw


def test_later_include_wins_and_nested_paths_are_relative_to_their_file(tmp_path):
    write(tmp_path, "a/shared.yaml", SHARED)
    write(tmp_path, "a/more.yaml", "include: shared.yaml\nseeds: 5\nsamples_per_label: 8\n")
    write(tmp_path, "b/last.yaml", "samples_per_label: 6\n")
    task = write(tmp_path, "t/task.yaml", "include: [../a/more.yaml, ../b/last.yaml]\n")
    cases = load_cases(task, check_data=False)
    assert [c.case_id for c in cases] == [
        "sib200-sw-gold-n6-logreg_e5_small",
        "sib200-en-gold-n6-logreg_e5_small",
    ]
    assert cases[0].seeds == tuple(range(5))


def test_included_file_gives_the_same_cases_as_the_file_written_out(tmp_path):
    write(tmp_path, "_defaults/shared.yaml", SHARED)
    split = write(tmp_path, "split.yaml", "include: _defaults/shared.yaml\nmarks: [slow]\n")
    whole = write(tmp_path, "whole.yaml", SHARED + "marks: [slow]\n")
    split_cases = load_cases(split, check_data=False)
    assert [c.to_dict() | {"source": ""} for c in split_cases] == [
        c.to_dict() | {"source": ""} for c in load_cases(whole, check_data=False)
    ]
    assert split_cases[0].marks == ("slow",)


def test_missing_include_names_file_key_and_resolved_path(tmp_path):
    task = write(tmp_path, "task.yaml", "include: [_defaults/nope.yaml]\n" + SHARED)
    message = error_for(task)
    assert message.startswith(f"{task}: include[0]: no file '_defaults/nope.yaml'")
    assert str(tmp_path / "_defaults" / "nope.yaml") in message


@pytest.mark.parametrize("value", ["3", "[[a.yaml]]", "''", "null"])
def test_include_that_is_not_a_path_is_refused(tmp_path, value):
    task = write(tmp_path, "task.yaml", f"include: {value}\n" + SHARED)
    assert "expected a file path or a list of paths" in error_for(task)


def test_include_cycle_is_refused_with_the_loop(tmp_path):
    write(tmp_path, "a.yaml", "include: b.yaml\n")
    write(tmp_path, "b.yaml", "include: a.yaml\n")
    task = write(tmp_path, "task.yaml", "include: a.yaml\n" + SHARED)
    message = error_for(task)
    assert message.startswith(f"{tmp_path / 'b.yaml'}: include: include cycle")
    assert "task.yaml -> a.yaml -> b.yaml -> a.yaml" in message


def test_file_including_itself_is_a_cycle(tmp_path):
    task = write(tmp_path, "task.yaml", "include: task.yaml\n" + SHARED)
    assert "include cycle task.yaml -> task.yaml" in error_for(task)


def test_one_file_included_twice_is_not_a_cycle(tmp_path):
    write(tmp_path, "base.yaml", SHARED)
    write(tmp_path, "x.yaml", "include: base.yaml\n")
    write(tmp_path, "y.yaml", "include: base.yaml\n")
    task = write(tmp_path, "task.yaml", "include: [x.yaml, y.yaml]\n")
    assert len(load_cases(task, check_data=False)) == 2


def test_duplicate_key_in_included_file_names_that_file_and_line(tmp_path):
    shared = write(tmp_path, "shared.yaml", SHARED + "seeds: 3\n")
    task = write(tmp_path, "task.yaml", "include: shared.yaml\n")
    message = error_for(task)
    assert message.startswith(f"{shared}: line 9: key 'seeds' appears twice")


def test_yaml_error_in_included_file_names_that_file(tmp_path):
    shared = write(tmp_path, "shared.yaml", "datasets: [sib200\n")
    task = write(tmp_path, "task.yaml", "include: shared.yaml\n")
    assert error_for(task).startswith(f"{shared}: line ")


def test_bad_key_set_by_included_file_names_that_file(tmp_path):
    shared = write(tmp_path, "shared.yaml", SHARED + "samples_per_lable: 3\n")
    task = write(tmp_path, "task.yaml", "include: shared.yaml\n")
    message = error_for(task)
    assert message.startswith(f"{shared}: samples_per_lable: unknown key")
    assert "did you mean 'samples_per_label'" in message
    assert message.endswith(f"(included by {task})")


def test_bad_value_set_by_included_file_names_that_file(tmp_path):
    shared = write(
        tmp_path,
        "shared.yaml",
        SHARED.replace("[embed-logreg]", "[{name: embed-logreg, encoder: nope}]"),
    )
    task = write(tmp_path, "task.yaml", "include: shared.yaml\n")
    assert error_for(task).startswith(f"{shared}: classifiers[0].encoder: unknown encoder 'nope'")


def test_bad_value_overridden_by_including_file_names_the_including_file(tmp_path):
    write(tmp_path, "shared.yaml", SHARED)
    task = write(tmp_path, "task.yaml", "include: shared.yaml\nsettings: [gloud]\n")
    message = error_for(task)
    assert message.startswith(f"{task}: settings[0]: unknown setting 'gloud'")
    assert "included by" not in message


def test_misspelt_include_key_suggests_include(tmp_path):
    task = write(tmp_path, "task.yaml", "includes: shared.yaml\n" + SHARED)
    assert "did you mean 'include'" in error_for(task)


def test_every_committed_task_file_expands_to_the_cases_it_had_before_includes():
    """Fixture written by the code before `include:` existed: ids, order, hashes and marks.
    (The study matrix, tasks/sib200.yaml and tasks/massive10.yaml, moved from transformers to
    the vLLM backend on purpose: its hashes were rewritten then, its ids and order are as before;
    no record was written from it.)"""
    before = json.loads(FIXTURE.read_text())
    now = {}
    for folder in ("tasks", "baselines"):
        for path in sorted((ROOT / folder).glob("*.yaml")):
            cases = load_cases(path, check_data=False)
            name = f"{folder}/{path.name}"
            assert {c.source for c in cases} == {name}
            now[name] = {
                "marks": sorted({m for c in cases for m in c.marks}),
                "cases": {c.case_id: c.spec_hash for c in cases},
            }
    assert set(before) <= set(now)  # files added since are not in the fixture
    for name, expected in before.items():
        assert now[name]["marks"] == expected["marks"], name
        assert list(now[name]["cases"].items()) == list(expected["cases"].items()), name


def test_every_shared_defaults_file_is_included_by_a_task_file():
    shared = set((ROOT / "tasks" / "_defaults").glob("*.yaml"))
    used: set[Path] = set()
    for path in [*ROOT.glob("tasks/**/*.yaml"), *ROOT.glob("baselines/*.yaml")]:
        refs = read_yaml_includes(path)
        used.update((path.parent / ref).resolve() for ref in refs)
    assert shared and not {p.resolve() for p in shared} - used


def read_yaml_includes(path: Path) -> list[str]:
    refs = read_yaml(path).get("include", [])
    return refs if isinstance(refs, list) else [refs]


def test_shared_yaml_is_not_a_task_file():
    assert is_shared_yaml(Path("tasks/_defaults/study.yaml"))
    assert is_shared_yaml(Path("tasks/_common.yaml"))
    assert not is_shared_yaml(Path("tasks/sib200.yaml"))
    assert not is_shared_yaml(Path("my_tasks/sib200.yaml"))


def test_plugin_collects_task_files_but_not_their_shared_defaults(pytester, sib_fixture_dir):
    tasks = pytester.path / "tasks"
    write(tasks, "_defaults/shared.yaml", SHARED)
    write(tasks, "_partial.yaml", "seeds: 3\n")  # not a task file: collecting it would fail
    write(tasks, "tiny.yaml", "include: _defaults/shared.yaml\nlanguages: [sw]\n")
    result = pytester.runpytest_subprocess(
        "--collect-only", "-q", "tasks", f"--bench-data-dir={sib_fixture_dir}"
    )
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["tasks/tiny.yaml::sib200-sw-gold-n4-logreg_e5_small", "*1 test*"])


def test_docs_include_example_expands_as_its_comments_say(tmp_path):
    page = (ROOT / "docs" / "task-files.md").read_text()
    example = next(b for b in page.split("```yaml\n")[1:] if b.startswith("# tasks/qwen_cy"))
    shutil.copytree(ROOT / "tasks" / "_defaults", tmp_path / "_defaults")
    task = write(tmp_path, "qwen_cy.yaml", example.split("```")[0])
    cases = load_cases(task, check_data=False)
    assert len(cases) == 2 * 9
    assert {(c.language, c.model, c.samples_per_label) for c in cases} == {
        ("cy", "qwen2.5-coder-0.5b", 20)
    }
    assert {(c.generation.max_attempts, c.generation.max_new_tokens) for c in cases} == {(8, 256)}
