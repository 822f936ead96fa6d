"""Bad inputs end in one named error or a recovery, never a crash or a silently changed score."""

from __future__ import annotations

import http.server
import json
import os
import re
import socket
import sqlite3
import threading
import time
import warnings
from pathlib import Path

import pytest

from benchmark.case.records import (
    read_record,
    read_records,
    record_flags,
    remove_stale_temp_files,
    write_json_atomic,
    write_text_atomic,
)
from benchmark.case.spec import TaskFileError
from benchmark.data.loaders import load_split
from benchmark.errors import BackendConfigError, DataFileError, RecordError
from benchmark.llm.cache import ResponseCache, ResponseCacheWarning
from benchmark.report.leaderboard import write_leaderboard
from benchmark.runner.taskfile import load_cases, source_path


def fake_record(case_id: str, f1: float = 50.0) -> dict:
    """A minimal complete record (what the leaderboard reads)."""
    return {
        "record_version": 1,
        "case_id": case_id,
        "spec_hash": "x",
        "status": "ok",
        "spec": {
            "dataset": "sib200",
            "language": "sw",
            "setting": "gold",
            "model": None,
            "samples_per_label": 100,
            "classifier_slug": "logreg_e5_small",
        },
        "scores": {
            "per_seed": [{"seed": 0, "macro_f1": f1, "accuracy": f1}],
            "macro_f1_mean": f1,
            "macro_f1_std": 1.25,
            "accuracy_mean": f1 + 1,
            "accuracy_std": 0.5,
        },
        "n_train": 700,
        "timings": {"fit_seconds_mean": 1.0, "total_seconds": 3.0},
    }


def tsv_copy(source: Path, tmp_path: Path, split: str, corrupt) -> Path:
    """A copy of the Swahili SIB-200 fixture whose `split` file went through `corrupt(text)`."""
    root = tmp_path / "data"
    (root / "sib200").mkdir(parents=True)
    for name in ("train", "dev", "test"):
        text = (source / "sib200" / f"swh_Latn_{name}.tsv").read_text(encoding="utf-8")
        if name == split:
            text = corrupt(text)
        data = text.encode("utf-8", "surrogateescape")  # "\udce9" becomes the raw byte 0xE9
        (root / "sib200" / f"swh_Latn_{name}.tsv").write_bytes(data)
    return root


# -- records -------------------------------------------------------------------------------


@pytest.fixture
def results(tmp_path) -> Path:
    folder = tmp_path / "board" / "results"
    write_json_atomic(folder / "good.json", fake_record("good"))
    return folder


def _good_unchanged(results: Path, before: bytes) -> None:
    assert (results / "good.json").read_bytes() == before


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"case_id": "x", "record_version": 1, "\xff\xfe": 1}', "not UTF-8"),
        (json.dumps(fake_record("bad"))[:200].encode(), "not valid JSON"),
        (
            json.dumps({k: v for k, v in fake_record("bad").items() if k != "spec"}).encode(),
            "missing field(s) spec",
        ),
        (
            json.dumps(
                {**fake_record("bad"), "scores": {"macro_f1_mean": 1.0}}, ensure_ascii=False
            ).encode(),
            "missing field(s) scores.per_seed",
        ),
        (b"[1, 2]", "expected a JSON object"),
        (
            json.dumps(
                {
                    **fake_record("bad"),
                    "scores": {**fake_record("bad")["scores"], "macro_f1_mean": "71.8"},
                }
            ).encode(),
            "scores.macro_f1_mean is '71.8' (a string), expected a number",
        ),
        (
            json.dumps(fake_record("bad", f1=float("nan"))).encode(),
            "scores.per_seed[0].macro_f1 is nan, expected a finite number",
        ),
        (
            json.dumps(
                {
                    **fake_record("bad"),
                    "spec": {**fake_record("bad")["spec"], "samples_per_label": "100"},
                }
            ).encode(),
            "spec.samples_per_label is '100' (a string), expected int",
        ),
        (
            json.dumps(fake_record("good")).encode(),
            "holds case 'good', whose record is good.json (a copy under another name?",
        ),
    ],
    ids=[
        "bad-bytes",
        "truncated",
        "no-spec",
        "no-scores",
        "not-object",
        "string-score",
        "nan-score",
        "string-size",
        "copied-record",
    ],
)
def test_bad_record_is_reported_and_skipped_never_raised(results, content, reason):
    before = (results / "good.json").read_bytes()
    (results / "bad.json").write_bytes(content)
    problems: list[RecordError] = []
    records = read_records(results, problems=problems)
    assert [r.case_id for r in records] == ["good"]
    assert len(problems) == 1 and reason in str(problems[0])
    assert problems[0].path.endswith("bad.json")
    assert read_record(results / "bad.json") is None  # so the case reruns and replaces it
    board = write_leaderboard(results.parent)  # the leaderboard still builds
    assert "from 1 result records" in board.read_text()
    assert "good" in (results.parent / "details" / "sib200.md").read_text()  # its case row
    _good_unchanged(results, before)


def test_leaderboard_command_survives_a_bad_record(results, caplog):
    from benchmark.cli import main

    (results / "bad.json").write_bytes(b"\xff\xfe\x00 not a record")
    assert main(["leaderboard", "--out", str(results.parent)]) == 0
    assert "bad.json: not UTF-8" in caplog.text  # printed on stderr outside pytest


def test_leaderboard_command_skips_a_record_with_a_string_or_nan_score(results, caplog):
    from benchmark.cli import main

    before = (results / "good.json").read_bytes()
    text_score = fake_record("text")
    text_score["scores"]["macro_f1_mean"] = "71.8"
    (results / "text.json").write_text(json.dumps(text_score))
    (results / "nan.json").write_text(json.dumps(fake_record("nan", f1=float("nan"))))
    assert main(["leaderboard", "--out", str(results.parent)]) == 0
    board = (results.parent / "LEADERBOARD.md").read_text()
    assert "from 1 result records" in board and not re.search(r"\bnan\b", board, re.I)
    assert "text.json: scores.macro_f1_mean is '71.8'" in caplog.text
    assert "nan.json: scores.per_seed[0].macro_f1 is nan" in caplog.text
    _good_unchanged(results, before)


def test_quality_with_a_mistyped_out_folder_says_so_and_creates_nothing(tmp_path):
    from benchmark.cli import main

    with pytest.raises(
        SystemExit, match=f"no results folder at {tmp_path / 'leaderbaord'}/results"
    ):
        main(["quality", "--out", str(tmp_path / "leaderbaord")])
    assert list(tmp_path.iterdir()) == []


def test_record_flags_mark_a_dirty_tree():
    clean = {**fake_record("a"), "environment": {"git": {"dirty": False}}}
    dirty = {**fake_record("a"), "environment": {"git": {"dirty": True}}}
    assert record_flags(clean) == [] and record_flags(fake_record("a")) == []
    assert record_flags(dirty) == ["dirty tree"]


def test_stale_temp_files_are_removed_young_ones_kept(tmp_path):
    stale, young = tmp_path / ".case.json.abc.tmp", tmp_path / ".case.json.def.tmp"
    stale.write_text("{")
    young.write_text("{")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    (tmp_path / "case.json").write_text("{}")
    assert remove_stale_temp_files(tmp_path) == [stale]
    assert not stale.exists() and young.exists() and (tmp_path / "case.json").exists()


def test_written_files_are_world_readable_like_other_artefacts(tmp_path):
    umask = os.umask(0o022)
    try:
        write_json_atomic(tmp_path / "r.json", {"a": 1})
        write_text_atomic(tmp_path / "LEADERBOARD.md", "# x\n")
        (tmp_path / "plain.txt").write_text("x")
    finally:
        os.umask(umask)
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes == {"r.json": 0o644, "LEADERBOARD.md": 0o644, "plain.txt": 0o644}


# -- data files ----------------------------------------------------------------------------


def _load(root: Path, split: str = "train"):
    return load_split("sib200", "sw", split, data_dir=root)


def test_intact_copy_loads_the_same_examples(sib_fixture_dir, tmp_path):
    root = tsv_copy(sib_fixture_dir, tmp_path, "train", lambda text: text)
    assert _load(root).examples == _load(sib_fixture_dir).examples


@pytest.mark.parametrize(
    ("corrupt", "split", "message", "line"),
    [
        (lambda t: t[: len(t) // 2 + 5], "train", "ends in the middle of a line", 23),
        (lambda t: t.replace("\tsports\t", "\tsprots\t", 1), "train", "unknown label 'sprots'", 32),
        (lambda t: t.replace("\ttravel\t", "\tfood\t", 1), "test", "unknown label 'food'", 20),
        (
            lambda t: t.split("\n", 1)[0] + "\n",
            "test",
            "no sib200 examples in the test split",
            None,
        ),
        (lambda t: "", "train", "empty file", None),
        (lambda t: t.split("\n", 1)[1], "train", "lacks column(s)", 1),
        (lambda t: t.replace("\ttext\n", "\tsentence\n", 1), "dev", "lacks column(s) text", 1),
        (lambda t: t.replace("\tgeography\t", "\t\t", 1), "train", "empty field(s) category", 8),
        (
            lambda t: t.replace("\thealth\t", "\thealth ", 1),
            "train",
            "2 fields, the header has 3",
            14,
        ),
        (lambda t: t.replace("today", "caf\udce9", 1), "train", "not UTF-8", 2),
    ],
    ids=[
        "truncated",
        "unknown-train-label",
        "unknown-test-label",
        "empty-split",
        "empty-file",
        "no-header",
        "no-text-column",
        "empty-field",
        "incomplete-row",
        "not-utf8",
    ],
)
def test_corrupt_data_file_is_a_named_error_with_file_and_line(
    sib_fixture_dir, tmp_path, corrupt, split, message, line
):
    root = tsv_copy(sib_fixture_dir, tmp_path, split, corrupt)
    with pytest.raises(DataFileError, match=re.escape(message)) as info:
        _load(root, split)
    assert info.value.path.endswith(f"swh_Latn_{split}.tsv")
    assert info.value.line == line
    assert _load(sib_fixture_dir, split).examples  # the original is untouched


def _replace_line(text: str, number: int, change) -> str:
    lines = text.split("\n")
    lines[number - 1] = change(lines[number - 1])
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda row: row.replace("\t", '\t"', 2).replace('\t"', "\t", 1), "is not closed"),
        (lambda row: row.replace("\tsw", '\t"sw\tx"', 1), "quoted field 3 holds a tab"),
        (lambda row: row.replace("\tsw", '\t"sw" x', 1), "text after the closing quote"),
    ],
    ids=["unbalanced-quote", "quoted-tab", "text-after-quote"],
)
def test_malformed_quote_is_refused_not_swallowing_rows(sib_fixture_dir, tmp_path, change, message):
    source = sib_fixture_dir / "sib200" / "swh_Latn_train.tsv"
    before = source.read_bytes()
    root = tsv_copy(sib_fixture_dir, tmp_path, "train", lambda t: _replace_line(t, 5, change))
    with pytest.raises(DataFileError, match=re.escape(message)) as info:
        _load(root)
    assert info.value.path.endswith("swh_Latn_train.tsv") and info.value.line == 5
    assert len(str(info.value)) < 400
    assert source.read_bytes() == before and len(_load(sib_fixture_dir).examples) == 42


def test_quoted_fields_with_doubled_quotes_and_line_separators_load(sib_fixture_dir, tmp_path):
    def quote(text: str) -> str:
        text = _replace_line(
            text, 3, lambda row: row.replace("\tsw", '\t"sw ""quoted"" sw', 1) + '"'
        )
        return _replace_line(text, 4, lambda row: row.replace("today", "to\u2028day", 1))

    root = tsv_copy(sib_fixture_dir, tmp_path, "train", quote)
    examples = _load(root).examples
    assert len(examples) == 42  # no row swallowed or split
    assert examples[1].text.startswith('sw "quoted" swh_Latn') and "\u2028" in examples[2].text
    broken = tsv_copy(
        sib_fixture_dir,
        tmp_path / "b",
        "train",
        lambda t: _replace_line(quote(t), 9, lambda row: row.replace("\t", " ", 1)),
    )
    with pytest.raises(DataFileError) as info:  # U+2028 on line 4 is no line break
        _load(broken)
    assert info.value.line == 9


def test_real_data_files_load_with_their_fingerprints(shared_data_dir):
    split = load_split("sib200", "az", "train", data_dir=shared_data_dir)
    quoted = [e for e in split.examples if '"' in e.text]
    assert len(split.examples) == 701 and quoted  # real texts hold (doubled) quotes
    assert not any("\t" in e.text or "\n" in e.text for e in split.examples)


def test_data_errors_reach_collection_as_one_line(sib_fixture_dir, tmp_path):
    root = tsv_copy(sib_fixture_dir, tmp_path, "train", lambda t: t.split("\n", 1)[0] + "\n")
    task = tmp_path / "t.yaml"
    task.write_text("datasets: [sib200]\nlanguages: [sw]\nsettings: [gold]\nsamples_per_label: 2\n")
    with pytest.raises(DataFileError, match="swh_Latn_train.tsv: no sib200 examples"):
        load_cases(task, data_dir=root)


# -- task files ----------------------------------------------------------------------------

BASE = "datasets: [sib200]\nlanguages: [sw]\nsamples_per_label: 4\n"


def _task(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "task.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        (BASE + "settings: [gold]\nseeds: 3\nseeds: 5\n", "line 6", "'seeds' appears twice"),
        (
            BASE + "settings: [gold]\ngeneration: {temperature: 0.1, temperature: 0.9}\n",
            "line 5",
            "'temperature' appears twice",
        ),
        (
            BASE + "settings: [gold]\nseeds\u200b: 3\n",
            "line 5",
            "key 'seeds\\u200b' holds an invisible or unusual character, U+200B (ZERO WIDTH SPACE)",
        ),
        (
            "datasets\u00a0: [sib200]\nlanguages: [sw]\nsettings: [gold]\nsamples_per_label: 4\n",
            "line 1",
            "U+00A0 (NO-BREAK SPACE), at position 9",
        ),
        (
            "description: 'one\u2028two'\n" + BASE + "settings: [gold]\nseeds: 3\nseeds: 5\n",
            "line 7",
            "'seeds' appears twice in one mapping (first on line 6)",
        ),
        (BASE + "settings: [gold]\nseeds: 100000\n", "seeds", "100000 seeds is more than the 100"),
        (BASE + "settings: [gold]\nseeds: " + str(list(range(101))) + "\n", "seeds", "101 seeds"),
        (
            BASE + "settings: [gold]\ngeneration: {seeds: 1000}\n",
            "generation.seeds",
            "1000 seeds is more than the 100",
        ),
        (BASE + "settings: [gold]\nseeds: [1, 2, 1]\n", "seeds[2]", "seed 1 is listed twice"),
        (
            "datasets: [sib200]\nlanguages: [sw]\nsettings: [target_demos]\nmodels: [tiny-random]\n"
            "samples_per_label: 1.0e+9\n",
            "samples_per_label[0]",
            "1000000000 per label is more than the 10000",
        ),
        (
            BASE
            + "settings: [target_demos]\nmodels: [tiny-random]\ngeneration: {backend: opnai}\n",
            "generation.backend",
            "unknown backend 'opnai' (did you mean 'openai'?)",
        ),
        (
            BASE + "settings: [target_demos]\nmodels: [tiny-random]\n"
            "generation: {backend: openai, backend_options: {base_url: 'http://x:1', max_concurency: 4}}\n",
            "generation.backend_options",
            "no option 'max_concurency' (did you mean 'max_concurrency'?)",
        ),
        (
            BASE
            + "settings: [target_demos]\nmodels: [tiny-random]\ngeneration: {backend: openai}\n",
            "generation.backend_options",
            "needs backend_options: base_url",
        ),
    ],
    ids=[
        "dup-key",
        "dup-nested-key",
        "zero-width-key",
        "no-break-space-key",
        "line-separator-in-text",
        "seed-count",
        "seed-list",
        "generation-seeds",
        "dup-seed",
        "huge-n",
        "unknown-backend",
        "unknown-option",
        "missing-base-url",
    ],
)
def test_task_file_mistakes_are_caught_at_collection(tmp_path, text, key, message):
    with pytest.raises(TaskFileError) as info:
        load_cases(_task(tmp_path, text), check_data=False)
    assert info.value.key == key
    assert message in str(info.value)


GENERATED_TASK = BASE + "settings: [target_demos]\nmodels: [%s]\n"


def _model_dir(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (folder / name).write_text("{}")
    return folder


def test_empty_or_missing_model_directory_is_named_with_what_it_must_hold(tmp_path):
    from benchmark.llm.backend import load_backend
    from benchmark.llm.models import ModelResolutionError

    empty = tmp_path / "my-llm"
    empty.mkdir()
    missing = tmp_path / "no-such-llm"
    for ref, expected in (
        (empty, f"model directory {empty} is empty"),
        (missing, "does not exist"),
    ):
        with pytest.raises(TaskFileError, match=re.escape(expected)) as info:
            load_cases(_task(tmp_path, GENERATED_TASK % ref), check_data=False)
        assert info.value.key == "models[0]" and len(str(info.value).splitlines()) == 1
        with pytest.raises(ModelResolutionError, match=re.escape(expected)) as info:
            load_backend("transformers", str(ref))  # at run time too, before transformers
        assert len(str(info.value)) < 600 and "Traceback" not in str(info.value)
    (empty / "config.json").write_text("{}")
    with pytest.raises(ModelResolutionError, match="has no weights, no tokenizer files; a model"):
        load_backend("transformers", str(empty))
    assert [p.name for p in empty.iterdir()] == ["config.json"]  # nothing written into it


def test_two_model_directories_with_one_name_are_refused_naming_both(tmp_path):
    first, second = _model_dir(tmp_path / "a" / "llm"), _model_dir(tmp_path / "b" / "llm")
    with pytest.raises(TaskFileError) as info:
        load_cases(_task(tmp_path, GENERATED_TASK % f"{first}, {second}"), check_data=False)
    message = str(info.value)
    assert "case id 'sib200-sw-target_demos-llm-n4-logreg_e5_small' appears twice" in message
    assert f"models '{first}' and '{second}'" in message
    (one,) = load_cases(_task(tmp_path, GENERATED_TASK % first), check_data=False)
    assert one.case_id == "sib200-sw-target_demos-llm-n4-logreg_e5_small"  # ids unchanged


def test_alias_bomb_and_huge_values_give_a_short_message(tmp_path):
    levels = ["x0: &l0 [" + ", ".join(["lol"] * 9) + "]"]
    levels += [f"x{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 9)]
    bomb = BASE + "settings: [gold]\n" + "\n".join(levels) + "\nseeds: *l8\n"
    started = time.perf_counter()
    with pytest.raises(TaskFileError, match="more than 100,000 values .*alias bomb") as info:
        load_cases(_task(tmp_path, bomb), check_data=False)
    assert time.perf_counter() - started < 5 and len(str(info.value)) < 300
    huge = BASE + "settings: [gold]\nseeds: '" + "9" * 3_000_000 + "'\n"
    with pytest.raises(TaskFileError, match="valid list") as info:
        load_cases(_task(tmp_path, huge), check_data=False)
    assert len(str(info.value)) < 2000 and "3,000,002 characters" in str(info.value)


def test_fractional_sample_count_gets_a_number_error_not_a_list_error(tmp_path):
    with pytest.raises(TaskFileError, match="valid integer") as info:
        load_cases(
            _task(tmp_path, BASE.replace("4", "2.5") + "settings: [gold]\n"), check_data=False
        )
    assert "valid list" not in str(info.value)


def test_non_utf8_task_file(tmp_path):
    path = tmp_path / "task.yaml"
    path.write_bytes(BASE.encode() + b"settings: [gold]\ndescription: caf\xe9\n")
    with pytest.raises(TaskFileError, match="not UTF-8"):
        load_cases(path, check_data=False)


def test_records_keep_the_task_path_relative_to_the_repository(tmp_path):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "tasks").mkdir()
    path = repo / "tasks" / "t.yaml"
    path.write_text(BASE + "settings: [gold]\n")
    assert source_path(path) == "tasks/t.yaml"
    assert {c.source for c in load_cases(path, check_data=False)} == {"tasks/t.yaml"}


# -- response cache ------------------------------------------------------------------------


def _filled_cache(path: Path, n: int = 1500) -> None:
    cache = ResponseCache(path)
    for i in range(n):
        cache.put(f"k{i}", {"kind": "chat", "model": "m"}, {"text": "x" * 200})
    cache.close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@pytest.mark.parametrize("damage", ["pages", "header"])
def test_corrupt_response_cache_is_moved_aside_and_the_run_goes_on(tmp_path, damage):
    path = tmp_path / "llm.sqlite"
    _filled_cache(path)
    with path.open("r+b") as handle:
        handle.seek(4096 * 3 if damage == "pages" else 0)
        handle.write(os.urandom(4096 * 20 if damage == "pages" else 100))
    cache = ResponseCache(path)
    with pytest.warns(ResponseCacheWarning, match=f"{path}.*moved it to") as caught:
        assert cache.get_many([f"k{i}" for i in range(1500)]) == {}
    assert len(caught) == 1
    moved = cache.moved_aside
    assert len(moved) == 1 and moved[0].exists() and moved[0].name.startswith("llm.sqlite.corrupt-")
    cache.put("new", {"kind": "chat", "model": "m"}, {"text": "y"})  # goes on, cold
    assert cache.get_many(["new"]) == {"new": {"text": "y"}} and len(cache) == 1


def test_busy_database_is_not_mistaken_for_corruption(tmp_path):
    path = tmp_path / "llm.sqlite"
    _filled_cache(path, n=3)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    cache = ResponseCache(path, timeout_s=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            cache.put("x", {"kind": "chat", "model": "m"}, {"text": "y"})
    blocker.rollback()
    assert cache.moved_aside == [] and path.exists()


# -- OpenAI-compatible server --------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_closed_port_fails_fast_with_the_url():
    from benchmark.llm.openai_backend import OpenAIBackend, ServerError

    url = f"http://127.0.0.1:{_closed_port()}/v1"
    started = time.perf_counter()
    with pytest.raises(ServerError, match="connection refused") as info:
        OpenAIBackend("tiny-random", base_url=url, progress=False)
    assert time.perf_counter() - started < 5
    assert f"{url}/models" in str(info.value)


def test_unresolvable_host_fails_fast_naming_the_host():
    from benchmark.llm.openai_backend import OpenAIBackend, ServerError

    url = "http://bench-no-such-host.invalid:8000/v1"
    started = time.perf_counter()
    with pytest.raises(
        ServerError, match="cannot resolve the host 'bench-no-such-host.invalid'"
    ) as info:
        OpenAIBackend("tiny-random", base_url=url, progress=False)
    assert time.perf_counter() - started < 5
    assert f"{url}/models" in str(info.value) and "base_url" in str(info.value)


def test_silent_server_is_named_in_the_progress_line_and_fails_by_its_deadline():
    from benchmark import progress
    from benchmark.llm.backend import ChatRequest
    from benchmark.llm.openai_backend import OpenAIBackend, ServerError
    from tests.llm.test_openai_backend import FakeServer

    lines: list[str] = []
    with socket.socket() as silent:  # accepts connections (the kernel's backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        started = time.perf_counter()
        with (
            progress.configured(sink=lines.append, heartbeat_s=1.0),
            progress.case("c"),
            pytest.raises(ServerError) as info,
        ):
            OpenAIBackend("tiny-random", base_url=url, setup_timeout_s=3, progress=False)
        took = time.perf_counter() - started
    assert 3 <= took < 5
    assert str(info.value).startswith(
        f"no reply from {url}/models for 3 s (backend_options.setup_timeout_s)"
    )
    waiting = [line for line in lines if f"waiting for {url}/models: no reply for" in line]
    assert waiting and re.search(r"no reply for [12]s$", waiting[0])  # within one interval

    hung = FakeServer()  # answers /models, then never answers a completion in time
    hung.script = [(200, 10.0, None)]
    try:
        backend = OpenAIBackend(
            "org/m", base_url=hung.url, deadline_s=2, progress=False, fingerprint="f"
        )
        started = time.perf_counter()
        with pytest.raises(ServerError, match=f"no reply from {hung.url}/chat/completions for 2 s"):
            backend.generate([ChatRequest([("user", "hi")])])
        assert time.perf_counter() - started < 4
    finally:
        hung.close()


class _EchoAuthHandler(http.server.BaseHTTPRequestHandler):
    """Refuses every request and echoes the Authorization header back (a careless server)."""

    def do_GET(self):  # noqa: N802 - http.server's naming
        body = json.dumps({"error": {"message": f"bad key: {self.headers['Authorization']}"}})
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


def test_api_key_echoed_by_the_server_is_redacted(monkeypatch):
    from benchmark.llm.openai_backend import OpenAIBackend, ServerError

    secret = "sk-very-secret-value-123"
    monkeypatch.setenv("BENCH_TEST_KEY", secret)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EchoAuthHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ServerError) as info:
            OpenAIBackend(
                "tiny-random",
                base_url=f"http://127.0.0.1:{server.server_port}/v1",
                api_key_env="BENCH_TEST_KEY",
                progress=False,
            )
    finally:
        server.shutdown()
    message = str(info.value)
    assert "HTTP 401" in message and "Bearer ***" in message
    assert secret not in message and secret not in repr(info.value)


def test_unset_key_variable_is_a_backend_config_error(monkeypatch):
    from benchmark.llm.openai_backend import OpenAIBackend

    monkeypatch.delenv("BENCH_UNSET_KEY", raising=False)
    with pytest.raises(BackendConfigError, match="BENCH_UNSET_KEY, which is not set"):
        OpenAIBackend(
            "tiny-random", base_url="http://127.0.0.1:1/v1", api_key_env="BENCH_UNSET_KEY"
        )


# -- generation and hub --------------------------------------------------------------------


class _DiesInRoundTwo:
    """A chat backend that answers the first batch and then fails (a killed server)."""

    max_model_len = 4096
    fingerprint = "dies-in-round-two"

    def __init__(self):
        self.batches = 0

    def generate(self, requests, *, on_result=None):
        from benchmark.llm.backend import ChatResponse

        self.batches += 1
        if self.batches > 1:
            raise ConnectionError("server went away")
        out = []
        for i in range(len(requests)):
            response = ChatResponse("only one usable sample here\n", 10, 10, "stop")
            if on_result:
                on_result(i, response)
            out.append(response)
        return out

    def choose(self, requests, *, on_result=None):
        raise AssertionError("no revision in this strategy")

    def count_tokens(self, messages):
        return sum(len(content.split()) for _, content in messages)

    def close(self):
        pass


def test_interrupted_generation_is_marked_partial(tmp_path, sib_fixture_dir):
    from scripted_llm import scripted

    from benchmark.case.spec import CaseSpec, GenerationOptions
    from benchmark.classifiers.embed_logreg import EmbedLogregSpec
    from benchmark.context import RunContext
    from benchmark.generation import pipeline, writer

    backends = scripted(_DiesInRoundTwo(), tmp_path / "llm.sqlite")
    spec = CaseSpec(
        dataset="sib200",
        language="sw",
        setting="target_demos",
        model="scripted",
        samples_per_label=3,
        gold_sampling="at_most",
        seeds=(0,),
        classifier=EmbedLogregSpec(encoder="tiny-random").model_dump(),
        generation=GenerationOptions(
            demos_per_label=1, per_request=3, max_attempts=3, seeds=[0]
        ).model_dump(),
    )
    ctx = RunContext(
        results_dir=tmp_path / "results", data_dir=sib_fixture_dir, figures=False, backends=backends
    )
    with pytest.raises(ConnectionError):
        pipeline.generated_training_set(spec, ctx, seed=0)
    folder = tmp_path / "results" / spec.case_id
    partial = folder / writer.PARTIAL_FILE
    assert partial.exists() and not (folder / "generated.jsonl").exists()
    rows = [json.loads(line) for line in partial.read_text().splitlines()]
    assert rows and {r["status"] for r in rows} == {"kept"}  # kept so far, in a partial file
    assert not (tmp_path / "results" / f"{spec.case_id}.json").exists()


def test_hub_splits_are_checked_like_local_files():
    from benchmark.data.hub import checked
    from benchmark.data.loaders import Example, Split

    empty = Split("sib200", "sw", "test", (), "hub:Davlan/sib200/swh_Latn/test")
    with pytest.raises(DataFileError, match="hub:Davlan/sib200/swh_Latn/test: no examples"):
        checked(empty, "sib200")
    odd = Split("sib200", "sw", "test", (Example("t", "food", "1", "test"),), "hub:x")
    with pytest.raises(DataFileError, match="unknown label"):
        checked(odd, "sib200")


def test_load_backend_names_an_unknown_option():
    from benchmark.llm.backend import load_backend

    with pytest.raises(
        BackendConfigError, match="no option 'devise' \\(did you mean 'device'\\?\\)"
    ):
        load_backend("transformers", "tiny-random", devise="cpu")
