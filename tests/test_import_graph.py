"""The package's import graph (every import, also those inside functions) has no circles, runs
only downwards through the layers, and hides no project import inside a function.

Importing `a.b.c` also runs `a/b/__init__.py`, so the graph has an edge to every package above
an imported module (unless the importer sits inside that package): the FreeAL setting, when it
lived in `freeal/case.py`, imported `settings.base` while `settings/__init__.py` imported it, a
circle that failed `import benchmark.freeal.case` on its own (it now is `settings/freeal.py`).

Layers, top to bottom (an import may go down or stay in its layer, never up):

- harness: what pytest and the command line load.
- runner (`runner/`): task files into cases (`runner/taskfile`), one case into one record
  (`runner/run`), and what writes records besides it (the staging folder, the quality and arms
  backfills). The task-file schema learns the names it accepts from the registries of settings,
  classifiers, selectors, augmenters, gates, backends and datasets, each filled next to the code
  it names, so the loader sits above the stages.
- reporting (`report/`): the leaderboard and what it reads records with; it only reads.
- stages: the settings and the stages they run (generation, FreeAL, selection, augmentation,
  quality).
- context: `RunContext`, what every stage is handed (data source, backend factory, embedder).
- models/data: LLM backends, encoders, classifiers, datasets and their loaders, the run's data
  source (`data/`), scoring.
- base: errors, the registry helper, `case/` (the case spec, task-file YAML, records), paths,
  progress lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "benchmark"
KNOWN_CIRCLES: set[frozenset[str]] = set()

LAYERS = ("harness", "runner", "reporting", "stages", "context", "models/data", "base")
# A package's entry places every module under it; a module's own entry wins.
LAYER_OF = {
    "benchmark.__main__": "harness",
    "benchmark.cli": "harness",
    "benchmark.plugin": "harness",
    "benchmark.report": "reporting",
    "benchmark.runner": "runner",
    "benchmark.settings": "stages",
    "benchmark.generation": "stages",
    "benchmark.freeal": "stages",
    "benchmark.selection": "stages",
    "benchmark.augment": "stages",
    "benchmark.quality": "stages",
    "benchmark.strategies": "stages",
    "benchmark.context": "context",
    "benchmark.llm": "models/data",
    "benchmark.encoders": "models/data",
    "benchmark.classifiers": "models/data",
    "benchmark.data": "models/data",
    "benchmark.scoring": "models/data",
    "benchmark": "base",
    "benchmark.case": "base",
    "benchmark.errors": "base",
    "benchmark.registry": "base",
    "benchmark.paths": "base",
    "benchmark.progress": "base",
}

# Project imports that stay inside a function: (importer, imported) -> why.
ALLOWED_LOCAL_IMPORTS: dict[tuple[str, str], str] = {
    ("benchmark.plugin", "benchmark.report.leaderboard"): (
        "pandas (imported by the leaderboard) would slow down every pytest session, unit tests"
        " included; the leaderboard is written only when a session that ran cases finishes"
    ),
}


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules(root: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(p, root): p for p in root.rglob("*.py")}


def function_imports(tree: ast.AST) -> set[ast.AST]:
    """The import statements inside function bodies."""
    return {
        node
        for func in ast.walk(tree)
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(func)
        if isinstance(node, (ast.Import, ast.ImportFrom))
    }


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, str, bool]]:
    """(project module, the module as named or a package above it, inside a function) for each
    project import of one module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    local = function_imports(tree)
    found: list[tuple[str, str, bool]] = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            named = target
            while target:  # the module and each package above it
                if target != name and not (package + ".").startswith(target + "."):
                    found.append((named, target, node in local))
                target = target.rpartition(".")[0]
    return found


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    modules = package_modules(root)
    return {
        name: {target for _, target, _ in imports_of(name, path, modules)}
        for name, path in modules.items()
    }


def local_imports(root: Path = PACKAGE) -> set[tuple[str, str]]:
    """(importer, imported) for each project import inside a function."""
    modules = package_modules(root)
    found = set()
    for name, path in modules.items():
        for named, target, inside in imports_of(name, path, modules):
            if inside and target == named:
                found.add((name, named))
    return found


def circles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer(module: str, table: dict[str, str] = LAYER_OF) -> str | None:
    while module and module not in table:
        module = module.rpartition(".")[0]
    return table.get(module)


def upward_imports(graph: dict[str, set[str]], table: dict[str, str] = LAYER_OF) -> list[str]:
    """Each import from a module to a module of a higher layer, as 'a (layer) -> b (layer)'."""
    rank = {name: LAYERS.index(name) for name in LAYERS}
    found = []
    for name in sorted(graph):
        for target in sorted(graph[name]):
            low, high = layer(name, table), layer(target, table)
            if low and high and rank[high] < rank[low]:
                found.append(f"{name} ({low}) -> {target} ({high})")
    return found


def test_no_import_circles_beyond_the_known_ones():
    assert circles(import_graph()) == KNOWN_CIRCLES


def test_the_circle_finder_sees_a_circle():
    assert circles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == {frozenset({"a", "b"})}


def test_importing_a_submodule_imports_its_packages():
    graph = import_graph()
    assert (
        "benchmark.settings" in graph["benchmark.runner.quality_backfill"]
    )  # via settings.generated
    assert "benchmark.encoders" in graph["benchmark.quality"]  # via encoders.embedder
    assert "benchmark.settings" not in graph["benchmark.settings.gold"]  # its own package


def test_every_module_has_a_layer():
    assert sorted(set(LAYER_OF.values()) - set(LAYERS)) == []
    assert [name for name in sorted(import_graph()) if layer(name) is None] == []


def test_no_import_runs_up_a_layer():
    assert upward_imports(import_graph()) == []


def test_the_layer_check_sees_an_upward_import():
    table = {"pkg.top": "harness", "pkg.low": "base", "pkg.mid": "runner"}
    graph = {"pkg.top": {"pkg.low"}, "pkg.low": {"pkg.mid"}, "pkg.mid": set()}
    assert upward_imports(graph, table) == ["pkg.low (base) -> pkg.mid (runner)"]


def test_project_imports_inside_functions_are_the_allowed_ones():
    """Project modules are imported at module level so that the graph shows; a lazy one needs an
    entry (with its reason) in ALLOWED_LOCAL_IMPORTS, and a stale entry fails too."""
    assert sorted(local_imports()) == sorted(ALLOWED_LOCAL_IMPORTS)


def test_the_graph_sees_package_imports_and_imports_inside_functions(tmp_path):
    files = {
        "pkg/__init__.py": "",
        "pkg/stages/__init__.py": "from pkg.stages.one import ONE\n",
        "pkg/stages/one.py": "from pkg.base import BASE\nONE = BASE\n",
        "pkg/base.py": "BASE = 1\n\ndef late():\n    from pkg.stages.one import ONE\n    return ONE\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    graph = import_graph(tmp_path / "pkg")
    assert graph["pkg.base"] == {"pkg.stages", "pkg.stages.one"}  # the package's __init__ runs
    assert "pkg.stages" not in graph["pkg.stages.one"]
    assert circles(graph) == {frozenset({"pkg.base", "pkg.stages", "pkg.stages.one"})}
    assert local_imports(tmp_path / "pkg") == {("pkg.base", "pkg.stages.one")}
