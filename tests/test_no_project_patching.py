"""No test rebinds an attribute of the project's own modules: tests inject services through
`RunContext` (data source, backend factory, embedder) or pass parameters instead.

Environment variables and third-party or standard-library attributes may still be patched.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
PATCHERS = {"setattr", "delattr", "patch", "object"}  # monkeypatch.*, mock.patch(.object)


def is_project_module(name: str | None) -> bool:
    return name is not None and (name == "benchmark" or name.startswith("benchmark."))


def project_names(tree: ast.AST) -> set[str]:
    """Names bound to `benchmark` modules, or to objects imported from them."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if is_project_module(alias.name):
                    names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and not node.level and is_project_module(node.module):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def project_patches(source: str) -> list[int]:
    """Line numbers of calls that patch a project attribute (by "benchmark.…" string or
    through a name imported from `benchmark`)."""
    tree = ast.parse(source)
    names = project_names(tree)
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if called not in PATCHERS:
            continue
        target = node.args[0]
        by_string = isinstance(target, ast.Constant) and is_project_module(
            target.value if isinstance(target.value, str) else None
        )
        if by_string or root_name(target) in names:
            lines.append(node.lineno)
    return lines


def test_no_test_patches_a_project_module():
    offenders = [
        f"{path.name}:{line}"
        for path in sorted(TESTS.rglob("*.py"))
        for line in project_patches(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "inject a service or pass a parameter instead"


def test_the_checker_sees_each_way_of_patching():
    source = """
import os
import benchmark.report.leaderboard as board
from benchmark import progress
from benchmark.generation.backends import BackendFactory

def test_x(monkeypatch):
    monkeypatch.setattr("benchmark.generation.backends.backend_for", None)
    monkeypatch.setattr(board, "FOLD_ROWS", 4)
    monkeypatch.setattr(progress.time, "monotonic", None)
    monkeypatch.setattr(BackendFactory, "__call__", None)
    monkeypatch.setattr(os, "replace", None)
    monkeypatch.setenv("BENCH_CACHE_DIR", "x")
    monkeypatch.setattr("os.replace", None)
"""
    assert project_patches(source) == [8, 9, 10, 11]
