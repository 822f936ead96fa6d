"""Units that fit on a screen: no function in `benchmark/` longer than 80 lines and no class
longer than 250 (from its `def`/`class` line to its last line). LONG_UNITS lists the known
exceptions still to be split; an entry that has become short enough fails too, so the list only
shrinks."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "benchmark"
MAX_FUNCTION_LINES = 80
MAX_CLASS_LINES = 250

# "path:Name" -> why it is still long (issue 27 lists them).
LONG_UNITS: dict[str, str] = {}


def long_units(root: Path = PACKAGE) -> dict[str, int]:
    """'path:Name' -> lines of every function over MAX_FUNCTION_LINES and every class over
    MAX_CLASS_LINES."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                limit = MAX_FUNCTION_LINES
            elif isinstance(node, ast.ClassDef):
                limit = MAX_CLASS_LINES
            else:
                continue
            lines = node.end_lineno - node.lineno + 1
            if lines > limit:
                found[f"{path.relative_to(root).as_posix()}:{node.name}"] = lines
    return found


def test_no_unit_is_longer_than_its_limit_beyond_the_known_ones():
    assert sorted(long_units()) == sorted(LONG_UNITS)


def test_the_length_check_sees_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "mod.py").write_text(f"def short():\n    pass\n\n\ndef long():\n{body}\n")
    assert long_units(tmp_path) == {"mod.py:long": MAX_FUNCTION_LINES + 1}
