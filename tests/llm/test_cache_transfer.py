"""Exporting response-cache rows and importing them elsewhere resumes a case without its calls."""

from __future__ import annotations

import gzip
import json

import pytest
from scripted_llm import ScriptedBackend

from benchmark import cli
from benchmark.errors import ResponseCacheError
from benchmark.llm.backend import ChatRequest, SamplingParams
from benchmark.llm.cache import CachedBackend, ResponseCache
from benchmark.llm.cache_transfer import export_rows, import_rows, parse_since


def echoing() -> ScriptedBackend:
    """A scripted backend that answers each prompt with a text of its own (calls counted)."""
    return ScriptedBackend(lambda prompt, seed: f"answer {prompt}")


def ask(text: str) -> ChatRequest:
    return ChatRequest([("user", text)], SamplingParams(seed=1))


def test_exported_rows_serve_the_same_requests_on_another_cache(tmp_path):
    first = CachedBackend(echoing(), ResponseCache(tmp_path / "a.sqlite"))
    texts = [r.text for r in first.generate([ask("x"), ask("y")])]
    assert export_rows(ResponseCache(tmp_path / "a.sqlite"), tmp_path / "e.jsonl.gz") == 2
    target = ResponseCache(tmp_path / "b.sqlite")
    assert import_rows(target, tmp_path / "e.jsonl.gz") == (2, 2)
    assert import_rows(target, tmp_path / "e.jsonl.gz") == (2, 0)  # already there: kept
    inner = echoing()
    again = CachedBackend(inner, target).generate([ask("x"), ask("y")])
    assert (
        sum(inner.generate_calls) == 0
        and [r.text for r in again] == texts
        and all(r.cached for r in again)
    )


def test_export_since_keeps_only_newer_rows(tmp_path):
    cache = ResponseCache(tmp_path / "a.sqlite")
    CachedBackend(echoing(), cache).generate([ask("old")])
    cache._guarded(lambda db: db.execute("UPDATE responses SET created = 100.0"))
    CachedBackend(echoing(), cache).generate([ask("new")])
    assert export_rows(cache, tmp_path / "e.jsonl.gz", since=parse_since("1970-01-01T00:05")) == 1
    assert parse_since("300") == 300.0


def test_an_edited_line_is_refused_and_nothing_is_imported(tmp_path):
    cache = ResponseCache(tmp_path / "a.sqlite")
    CachedBackend(echoing(), cache).generate([ask("x"), ask("y")])
    export_rows(cache, tmp_path / "e.jsonl.gz")
    with gzip.open(tmp_path / "e.jsonl.gz", "rt") as handle:
        rows = [json.loads(line) for line in handle]
    rows[1]["request"] = rows[1]["request"].replace('"y"', '"z"')
    with gzip.open(tmp_path / "bad.jsonl.gz", "wt") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows)
    target = ResponseCache(tmp_path / "b.sqlite")
    with pytest.raises(ResponseCacheError, match=r"bad.jsonl.gz, line 2: the key does not match"):
        import_rows(target, tmp_path / "bad.jsonl.gz")
    assert len(target) == 0


def test_cli_names_a_file_that_is_not_an_export(tmp_path, capsys):
    (tmp_path / "plain.txt").write_text("hello")
    with pytest.raises(SystemExit, match="plain.txt: not a gzipped export"):
        cli.main(["cache", "import", str(tmp_path / "plain.txt"), "--cache", str(tmp_path / "c")])
    cli.main(["cache", "export", str(tmp_path / "e.jsonl.gz"), "--cache", str(tmp_path / "c")])
    assert "exported 0 response(s)" in capsys.readouterr().out
