"""Reporting reads records through `Record` (benchmark/case/records.py): no module under
benchmark/report/ indexes a dict by one of the record schema's top-level keys, so the keys
(and the fallbacks for old records) live in records.py only."""

from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

from benchmark.case.records import Record

REPORT = Path(__file__).resolve().parents[2] / "benchmark" / "report"
TOP_LEVEL_KEYS = {f.name for f in fields(Record)} - {"extra", "key_order"}
DICT_READS = {"get", "pop", "setdefault"}
# (module, key): why the read is not a record read.
ALLOWED = {
    ("significance.py", "labels"): "a stored predictions.json file, not a record",
    ("significance.py", "matched_gold"): "a stored predictions.json file, not a record",
    ("arms_answer.py", "matched_gold"): "a stored predictions.json file, not a record",
    ("arms_answer.py", "labels"): "a stored predictions.json file, not a record",
    ("arms_answer.py", "generation"): "the spec's generation options (demos per label)",
}


def schema_key_reads(source: str) -> list[tuple[str, int]]:
    """(key, line) of every `x["key"]` and `x.get("key")` whose key is a record field."""
    found = []
    for node in ast.walk(ast.parse(source)):
        key = None
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            key = node.slice.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in DICT_READS
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            key = node.args[0].value
        if isinstance(key, str) and key in TOP_LEVEL_KEYS:
            found.append((key, node.lineno))
    return found


def test_the_check_finds_a_record_read_by_key():
    source = 'f1 = record["scores"]["macro_f1_mean"]\ngap = record.get("matched_gold")\n'
    assert sorted(schema_key_reads(source)) == [("matched_gold", 2), ("scores", 1)]
    assert schema_key_reads("f1 = record.macro_f1\nx = row['kept']\n") == []


def test_reporting_reads_no_record_field_by_key():
    found = {
        f"{path.name}:{line}: [{key!r}]"
        for path in sorted(REPORT.glob("*.py"))
        for key, line in schema_key_reads(path.read_text(encoding="utf-8"))
        if (path.name, key) not in ALLOWED
    }
    assert not found, "read these through Record (benchmark/case/records.py):\n" + "\n".join(
        sorted(found)
    )


def test_every_allowed_read_still_exists():
    """An allow-list entry whose read is gone must be dropped, so the list stays exact."""
    present = {
        (path.name, key)
        for path in REPORT.glob("*.py")
        for key, _ in schema_key_reads(path.read_text(encoding="utf-8"))
    }
    assert set(ALLOWED) <= present
