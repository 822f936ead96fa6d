"""Through pytest: bad records, task files, data and servers end in a short report, not a crash."""

from __future__ import annotations

import json
import os
import re
import socket
import time

import pytest

from tests.test_bad_inputs import tsv_copy

GOLD = """
datasets: [sib200]
languages: [sw]
settings: [gold]
samples_per_label: 2
seeds: 1
classifiers: [{name: embed-logreg, encoder: tiny-random}]
"""
GENERATED = """
datasets: [sib200]
languages: [sw]
settings: [target_demos]
models: [tiny-random]
samples_per_label: 2
seeds: 1
classifiers: [{name: embed-logreg, encoder: tiny-random}]
generation: {demos_per_label: 1, backend: openai, backend_options: {base_url: "%s"%s}}
"""
CASE = "sib200-sw-gold-n2-logreg_tiny_random"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """One cache for the module's runs (pytester gives each run a fresh HOME)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def pytester(pytester, cache_dir):
    pytester._shared_cache = cache_dir
    return pytester


def run(pytester, data_dir, *tasks: str, args=()):
    folder = pytester.path / "tasks"
    folder.mkdir(exist_ok=True)
    for i, task in enumerate(tasks):
        (folder / f"t{i}.yaml").write_text(task)
    return pytester.runpytest_subprocess(
        "tasks",
        f"--bench-data-dir={data_dir}",
        f"--bench-out={pytester.path / 'out'}",
        "-p",
        "no:cacheprovider",
        "--bench-no-figures",
        f"--bench-cache-dir={pytester._shared_cache}",
        *args,
    )


def failure_section(output: str) -> list[str]:
    """The lines between the ERRORS/FAILURES header and the short test summary."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"=+ (ERRORS|FAILURES) =+", line))
    end = next(i for i, line in enumerate(lines) if "short test summary" in line)
    return lines[start + 1 : end]


def assert_short(output: str, *expected: str) -> None:
    section = failure_section(output)
    text = "\n".join(section)
    assert len(section) <= 30, text
    assert "Traceback" not in text and "_pytest" not in text and "pluggy" not in text, text
    for snippet in expected:
        assert snippet in text, text


def test_bad_record_of_a_case_reruns_and_a_stray_one_is_reported(pytester, sib_fixture_dir):
    results = pytester.path / "out" / "results"
    results.mkdir(parents=True)
    (results / f"{CASE}.json").write_bytes(b'{"record_version": 1, "case_id": "\xff')
    (results / "stray.json").write_text(json.dumps({"record_version": 1, "case_id": "stray"}))
    (results / ".stray.json.x.tmp").write_text("{")
    old = time.time() - 7200
    os.utime(results / ".stray.json.x.tmp", (old, old))
    stray_before = (results / "stray.json").read_bytes()

    result = run(pytester, sib_fixture_dir, GOLD, args=["-rA"])
    result.assert_outcomes(passed=1)
    record = json.loads((results / f"{CASE}.json").read_text(encoding="utf-8"))
    assert record["status"] == "ok" and record["spec"]["source"] == "tasks/t0.yaml"
    assert (results / f"{CASE}.json").stat().st_mode & 0o044 == 0o044  # world-readable
    assert (results / "stray.json").read_bytes() == stray_before  # reported, left alone
    result.stdout.fnmatch_lines(
        [
            "*removed 1 stale temp file(s) or staging folder(s)*",
            "*skipped bad record */stray.json: missing field(s) spec, scores, n_train, timings*",
            "*passed*sib200-sw-gold-n2-logreg_tiny_random*",
            "leaderboard rebuilt: *",
        ]
    )
    assert not (results / ".stray.json.x.tmp").exists()

    again = run(pytester, sib_fixture_dir, GOLD)  # the replaced record counts as finished
    again.assert_outcomes(skipped=1)


def test_task_file_and_data_mistakes_are_short_collection_errors(
    pytester, sib_fixture_dir, tmp_path
):
    root = tsv_copy(sib_fixture_dir, tmp_path, "train", lambda t: "")
    backend_mistake = GENERATED % ("http://127.0.0.1:1/v1", ", max_concurency: 2")
    result = run(pytester, root, GOLD, backend_mistake)
    result.assert_outcomes(errors=2)
    assert_short(
        result.stdout.str(),
        "swh_Latn_train.tsv: empty file; expected a header line",
        "t1.yaml: generation.backend_options: backend 'openai' has no option 'max_concurency' "
        "(did you mean 'max_concurrency'?)",
    )


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_server_problems_are_short_case_failures(pytester, sib_fixture_dir, monkeypatch):
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    monkeypatch.delenv("BENCH_UNSET_TEST_KEY", raising=False)
    refused = GENERATED % (url, "")
    unset_key = (GENERATED % (url, ", api_key_env: BENCH_UNSET_TEST_KEY")).replace(
        "samples_per_label: 2", "samples_per_label: 3"
    )
    result = run(pytester, sib_fixture_dir, refused, unset_key)
    result.assert_outcomes(failed=2)
    assert_short(
        result.stdout.str(),
        f"sib200-sw-target_demos-tiny_random-n2-logreg_tiny_random: gave up after 3 attempts: "
        f"cannot connect to {url}/models: connection refused",
        "sib200-sw-target_demos-tiny_random-n3-logreg_tiny_random: api_key_env names the "
        "environment variable BENCH_UNSET_TEST_KEY, which is not set",
    )


BUGGY_CONFTEST = """
import benchmark.plugin


def _inner():
    return {}["missing"]


def broken_run_case(spec, ctx):
    return _inner()


benchmark.plugin.run_case = broken_run_case
"""


def test_a_bug_shows_the_project_frames_only(pytester, sib_fixture_dir):
    pytester.makeconftest(BUGGY_CONFTEST)
    result = run(pytester, sib_fixture_dir, GOLD)
    result.assert_outcomes(failed=1)
    section = failure_section(result.stdout.str())
    text = "\n".join(section)
    assert len(section) <= 30 and "_pytest" not in text and "pluggy" not in text, text
    assert "in _inner" in text and "KeyError: 'missing'" in text
    result.stdout.fnmatch_lines(
        ["failed   sib200-sw-gold-n2-logreg_tiny_random  KeyError: 'missing'"]
    )


class _SamplesServer:
    """A loopback OpenAI server: numbered samples at temperature 0.4, garbage at any other."""

    def __init__(self):
        from tests.llm.test_openai_backend import FakeServer

        self.fake = FakeServer()
        self.fake.answer = self.answer
        self.url, self.count = self.fake.url, 0

    def answer(self, body: dict) -> dict:
        self.count += 1
        good = body.get("temperature") == 0.4
        lines = [f"{i}. the sample number {self.count}-{i} of this label" for i in range(1, 4)]
        text = "\n".join(lines) if good else "!!! ??? ..."
        return {
            "choices": [{"message": {"content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 20},
        }


def _tree(folder) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_a_failed_rerun_leaves_the_previous_record_and_artefacts_byte_identical(
    pytester, sib_fixture_dir
):
    server = _SamplesServer()
    task = (GENERATED % (server.url, "")).replace(
        "demos_per_label: 1", "demos_per_label: 1, seeds: 1"
    )
    results = pytester.path / "out" / "results"
    case = "sib200-sw-target_demos-tiny_random-n2-logreg_tiny_random"
    try:
        run(pytester, sib_fixture_dir, task).assert_outcomes(passed=1)
        before = _tree(results)
        assert f"{case}/generated.jsonl" in before and before[f"{case}/generated.jsonl"]
        changed = task.replace("seeds: 1,", "seeds: 1, temperature: 0.9,")
        result = run(pytester, sib_fixture_dir, changed)  # spec changed: reruns, and fails
    finally:
        server.fake.close()
    result.assert_outcomes(failed=1)
    failed = results / f"{case}.failed"
    assert_short(
        result.stdout.str(), "need at least 2 labels", f"what was generated is kept in {failed}"
    )
    after = _tree(results)
    assert {k: v for k, v in after.items() if not k.startswith(f"{case}.failed/")} == before
    assert (failed / "generated.jsonl").read_text().count('"status": "kept"') == 0
    assert not list((pytester.path / "out").glob(".*.staging"))  # no staging folder left


def test_two_task_files_with_one_case_id_for_two_models_fail_before_running(
    pytester, sib_fixture_dir, tmp_path
):
    from tests.test_bad_inputs import _model_dir

    first, second = _model_dir(tmp_path / "a" / "llm"), _model_dir(tmp_path / "b" / "llm")
    task = GENERATED % ("http://127.0.0.1:1/v1", "")
    result = run(
        pytester,
        sib_fixture_dir,
        task.replace("[tiny-random]", f"[{first}]"),
        task.replace("[tiny-random]", f"[{second}]"),
    )
    result.assert_outcomes(failed=2)
    assert_short(
        result.stdout.str(),
        f"the same case id is collected from {pytester.path / 'tasks' / 't1.yaml'} with another spec",
        f"models '{first}' and '{second}' share the name the id keeps",
    )
    assert not (pytester.path / "out" / "results").exists()  # nothing ran, nothing written


def test_a_corrupt_response_cache_moved_aside_is_said_in_the_run_and_its_summary(
    pytester, sib_fixture_dir, tmp_path, monkeypatch
):
    from tests.test_bad_inputs import _filled_cache

    cache = tmp_path / "llm.sqlite"
    _filled_cache(cache, n=200)
    with cache.open("r+b") as handle:
        handle.write(os.urandom(100))  # the header: not a database any more
    monkeypatch.setenv("BENCH_RESPONSE_CACHE", str(cache))
    server = _SamplesServer()
    task = (GENERATED % (server.url, "")).replace(
        "demos_per_label: 1", "demos_per_label: 1, seeds: 1"
    )
    try:
        result = run(pytester, sib_fixture_dir, task)
    finally:
        server.fake.close()
    result.assert_outcomes(passed=1)
    (moved,) = tmp_path.glob("llm.sqlite.corrupt-*")
    said = f"NOTE: response cache {cache} is damaged (*); moved it to {moved} and going on*"
    # said when it happens, and again in the end-of-session summary
    result.stdout.fnmatch_lines(
        [f"  sib200-sw-target_demos-* {said}", "passed *", said, "*benchmark cases*"]
    )


@pytest.mark.parametrize("seeds", ["-2", "0", "101"])
def test_bench_seeds_out_of_range_is_a_usage_error(pytester, sib_fixture_dir, seeds):
    result = run(pytester, sib_fixture_dir, GOLD, args=["--bench-seeds", seeds])
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"--bench-seeds {seeds}: give a number of seeds from 1 to 100" in result.stderr.str()
    assert "Traceback" not in result.stderr.str() and not (pytester.path / "out").exists()


def test_an_unwritable_output_folder_is_found_before_the_case_runs(pytester, sib_fixture_dir):
    out = pytester.path / "out"
    out.write_text("a file where the output folder should be\n")  # unwritable even for root
    result = run(pytester, sib_fixture_dir, GOLD)
    result.assert_outcomes(failed=1)
    assert_short(
        result.stdout.str(),
        f"{CASE}: cannot write to the output folder {out / 'results'} (",
        "the case did not run",
    )
    assert "training on" not in result.stdout.str()  # no step of the case began
    assert out.read_text() == "a file where the output folder should be\n"
    if os.geteuid() != 0:  # a read-only folder (root writes into any folder)
        out.unlink()
        (out / "results").mkdir(parents=True)
        out.chmod(0o555)
        (out / "results").chmod(0o555)
        try:
            result = run(pytester, sib_fixture_dir, GOLD)
        finally:
            out.chmod(0o755)
            (out / "results").chmod(0o755)
        result.assert_outcomes(failed=1)
        assert_short(result.stdout.str(), "cannot write to the output folder", "Permission denied")
