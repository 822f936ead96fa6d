"""End to end through pytest: collection, -k selection, records, skip on rerun, leaderboard."""

from __future__ import annotations

import json

import pytest

TASK = """
datasets: [sib200]
languages: [en, sw]
settings: [gold]
samples_per_label: 4
seeds: 2
classifiers:
  - {name: embed-logreg, encoder: tiny-random}
"""


@pytest.fixture
def project(pytester, sib_fixture_dir):
    (pytester.path / "tasks").mkdir()
    (pytester.path / "tasks" / "tiny.yaml").write_text(TASK)
    return pytester


def run(pytester, data_dir, *args):
    return pytester.runpytest_subprocess(
        "tasks",
        f"--bench-data-dir={data_dir}",
        f"--bench-out={pytester.path / 'out'}",
        "-p",
        "no:cacheprovider",
        *args,
    )


def test_collect_only_and_k_selection(project, sib_fixture_dir):
    result = run(project, sib_fixture_dir, "--collect-only", "-q", "-k", "sib200 and sw")
    result.stdout.fnmatch_lines(
        ["tasks/tiny.yaml::sib200-sw-gold-n4-logreg_tiny_random", "*1/2 tests collected*"]
    )
    marked = run(project, sib_fixture_dir, "--collect-only", "-q", "-m", "en")
    marked.stdout.fnmatch_lines(["tasks/tiny.yaml::sib200-en-gold-n4-logreg_tiny_random"])


def test_run_writes_records_then_skips_finished_cases(project, sib_fixture_dir):
    first = run(project, sib_fixture_dir)
    first.assert_outcomes(passed=2)
    results = project.path / "out" / "results"
    record = json.loads((results / "sib200-sw-gold-n4-logreg_tiny_random.json").read_text())
    assert record["status"] == "ok" and len(record["scores"]["per_seed"]) == 2
    assert record["train_label_counts"] == {label: 4 for label in record["labels"]}
    assert record["spec"]["dataset"] == "sib200" and record["environment"]["packages"]["torch"]
    assert (results / "sib200-sw-gold-n4-logreg_tiny_random" / "confusion.png").is_file()
    assert (project.path / "out" / "LEADERBOARD.md").is_file()
    details = (project.path / "out" / "details" / "sib200.md").read_text()
    assert "sib200-sw-gold-n4-logreg_tiny_random" in details
    before = (results / "sib200-sw-gold-n4-logreg_tiny_random.json").read_text()

    second = run(project, sib_fixture_dir)
    second.assert_outcomes(skipped=2)
    second.stdout.fnmatch_lines(["*finished earlier*--bench-overwrite*"])
    assert (results / "sib200-sw-gold-n4-logreg_tiny_random.json").read_text() == before

    third = run(project, sib_fixture_dir, "--bench-overwrite", "-k", "sw")
    third.assert_outcomes(passed=1)


def test_changed_spec_reruns_instead_of_skipping(project, sib_fixture_dir):
    run(project, sib_fixture_dir, "-k", "sw").assert_outcomes(passed=1)
    result = run(project, sib_fixture_dir, "-k", "sw", "--bench-seeds=1")
    result.assert_outcomes(passed=1)  # spec hash differs (seeds), so the old record is stale


def test_missing_data_dir_is_a_clear_collection_error(project, tmp_path):
    result = run(project, tmp_path / "missing", "--collect-only")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*data directory*missing*does not exist*--bench-data-dir*"])
    assert "Traceback" not in result.stdout.str()


def test_xdist_workers_write_one_intact_record_per_case(project, sib_fixture_dir):
    result = run(project, sib_fixture_dir, "-n", "2")
    result.assert_outcomes(passed=2)
    results = project.path / "out" / "results"
    records = sorted(results.glob("*.json"))
    assert [p.stem for p in records] == [
        "sib200-en-gold-n4-logreg_tiny_random",
        "sib200-sw-gold-n4-logreg_tiny_random",
    ]
    assert all(json.loads(p.read_text())["status"] == "ok" for p in records)
    assert not list(results.glob(".*.tmp"))
    assert "sib200-en-gold-n4" in (project.path / "out" / "details" / "sib200.md").read_text()


def test_leaderboard_command_rebuilds_without_running(project, sib_fixture_dir):
    from benchmark.cli import main

    run(project, sib_fixture_dir).assert_outcomes(passed=2)
    board = project.path / "out" / "LEADERBOARD.md"
    before = board.read_text()
    board.unlink()
    assert main(["leaderboard", "--out", str(project.path / "out")]) == 0
    assert board.read_text().split("\n", 3)[3] == before.split("\n", 3)[3]  # header names the path


ROOT_CONFIG = """
[tool.pytest.ini_options]
testpaths = ["tests", "tasks"]
"""
UNIT_TESTS = """
def test_sib200_sw_loader():
    pass

def test_other():
    pass
"""


@pytest.fixture
def root_project(project):
    (project.path / "pyproject.toml").write_text(ROOT_CONFIG)
    (project.path / "tests").mkdir()
    (project.path / "tests" / "test_unit.py").write_text(UNIT_TESTS)
    return project


def from_root(pytester, data_dir, *args):
    """pytest with no path, as typed at the repository root (testpaths apply)."""
    return pytester.runpytest_subprocess(
        f"--bench-data-dir={data_dir}", f"--bench-out={pytester.path / 'out'}", *args
    )


def test_k_from_the_root_selects_benchmark_cases_only(root_project, sib_fixture_dir):
    result = from_root(root_project, sib_fixture_dir, "-k", "sib200 and sw", "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "*picked 1 of 2 benchmark cases*unit tests left out*",
            "tasks/tiny.yaml::sib200-sw-gold-n4-logreg_tiny_random",
            "1/4 tests collected (3 deselected)*",
        ]
    )
    assert "test_sib200_sw_loader" not in result.stdout.str()


def test_plain_run_from_the_root_never_reads_task_files(root_project, tmp_path):
    # a missing data folder would be a collection error if a task file were read
    result = from_root(root_project, tmp_path / "missing", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["tests/test_unit.py::test_other", "2 tests collected*"])
    assert result.ret == 0 and "tiny.yaml" not in result.stdout.str()


@pytest.mark.parametrize("expression", ["not slow", "other"])
def test_unit_test_selections_from_the_root_run_no_case(root_project, sib_fixture_dir, expression):
    result = from_root(root_project, sib_fixture_dir, "-k", expression, "--collect-only", "-q")
    assert "tiny.yaml" not in result.stdout.str()
    assert "tests/test_unit.py::test_other" in result.stdout.str()


def test_progress_lines_and_rebuild_only_when_something_ran(project, sib_fixture_dir):
    first = run(project, sib_fixture_dir, "-k", "sw")
    first.stdout.fnmatch_lines(
        [
            "*sib200-sw-gold-n4-logreg_tiny_random [[]*s[]] started",
            "*sib200-sw-gold-n4-logreg_tiny_random [[]*s[]] seed 1/2: training on 28 examples",
            "passed   sib200-sw-gold-n4-logreg_tiny_random  macro-F1*",
            "leaderboard rebuilt: *LEADERBOARD.md",
        ]
    )
    assert "\n.\n" not in first.stdout.str()  # no lone progress dot
    second = run(project, sib_fixture_dir, "-k", "sw")
    second.stdout.fnmatch_lines(["nothing ran (every case finished earlier)*--bench-out*"])
    assert "leaderboard rebuilt" not in second.stdout.str()
