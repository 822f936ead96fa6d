"""Typed sub-specs: task file -> CaseSpec -> record dict -> CaseSpec keeps every id and hash,
old stored dicts keep theirs, and no consumer indexes a sub-spec by string."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from benchmark.case.spec import CaseSpec, FreeALSpec, GateSetSpec, GenerationOptions, SelectionSpec
from benchmark.classifiers import build_classifier
from benchmark.classifiers.embed_logreg import EmbedLogregSpec
from benchmark.runner.taskfile import load_cases

ROOT = Path(__file__).resolve().parents[2]
TASK_FILES = sorted([*(ROOT / "tasks").glob("*.yaml"), *(ROOT / "baselines").glob("*.yaml")])
SUB_SPECS = {"classifier", "generation", "selection", "augmentation", "freeal", "gates"}


def _record_trip(case: CaseSpec) -> CaseSpec:
    return CaseSpec.from_dict(json.loads(json.dumps(case.to_dict())))


@pytest.mark.parametrize("path", TASK_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_task_case_survives_the_record_round_trip(path):
    for case in load_cases(path, check_data=False):
        back = _record_trip(case)
        assert (back.case_id, back.spec_hash) == (case.case_id, case.spec_hash)
        assert back == case and back.to_dict() == case.to_dict()
        assert isinstance(back.classifier, type(case.classifier))
        if case.generation is not None:
            assert isinstance(back.generation, GenerationOptions)
            assert back.generation_seeds == case.generation_seeds


def _spec(**overrides) -> CaseSpec:
    fields = {
        "dataset": "sib200",
        "language": "sw",
        "setting": "freeal",
        "model": "smollm2-135m",
        "samples_per_label": 10,
        "gold_sampling": "at_most",
        "seeds": (3, 4),
        "classifier": {"name": "embed-logreg", "encoder": "e5-small", "c": 1.0, "max_iter": 2000},
        "generation": {"backend": "transformers", "seed": None, "demos_per_label": 10},
    }
    return CaseSpec(**{**fields, **overrides})


OLD_FREEAL = {  # a FreeAL case written before calibration, refinement and the new loss
    "pool_size": 200,
    "rounds": 2,
    "demo_source": "gold",
    "clean_selection": "reference",
    "consistency": "backtranslation",
    "demos_per_text": 10,
    "abstain_margin": 0.0,
    "retrieval_encoder": "e5-small",
    "clean_threshold": 0.7,
    "min_per_class": 5,
    "epochs": 30,
    "warmup_epochs": 3,
    "rampup_epochs": 10,
    "lr": 0.1,
    "batch_size": 32,
    "mixup_alpha": 4.0,
    "temperature": 0.85,
}


def test_an_old_stored_spec_keeps_its_dict_and_reads_its_legacy_values():
    spec = _spec(freeal=OLD_FREEAL)
    stored = spec.to_dict()
    assert stored["freeal"] == OLD_FREEAL and "class_weight" not in stored["classifier"]
    assert stored["generation"] == {"backend": "transformers", "seed": None, "demos_per_label": 10}
    assert _record_trip(spec).spec_hash == spec.spec_hash
    fa = spec.freeal
    assert (fa.calibration, fa.refinement, fa.consistency_loss, fa.mixup_ramp) == (
        "none",
        "noisy_only",
        "legacy",
        False,
    )
    assert spec.classifier.class_weight == "none"  # unweighted before the option
    assert spec.generation_seeds == [3]  # no `seeds` and no `seed`: the case's first seed
    assert _spec(generation={"seed": 7}).generation_seeds == [7]


def test_a_stored_field_changes_the_hash_a_missing_one_does_not():
    old = _spec(freeal=OLD_FREEAL)
    assert _spec(freeal={**OLD_FREEAL, "calibration": "none"}).spec_hash == old.spec_hash
    assert _spec(freeal={**OLD_FREEAL, "mixup_ramp": False}).spec_hash != old.spec_hash
    full = _spec(classifier=EmbedLogregSpec().complete())
    assert full.to_dict()["classifier"]["class_weight"] == "balanced"
    assert full.spec_hash != _spec().spec_hash


def test_sub_specs_are_frozen_and_checked():
    spec = _spec(selection={"method": "kcenter", "pool_factor": 3})
    assert isinstance(spec.selection, SelectionSpec) and spec.selection.encoder == "e5-small"
    with pytest.raises(ValueError):
        spec.selection.pool_factor = 5
    with pytest.raises(ValueError, match="clean_selection"):
        FreeALSpec.of({**OLD_FREEAL, "clean_selection": "everything"})
    with pytest.raises(ValueError, match="names"):
        GateSetSpec.of({"names": []})


def test_a_classifier_is_built_from_its_typed_options():
    built = build_classifier(
        _spec().classifier.model_copy(update={"encoder": "tiny-random"}), labels=["a", "b"]
    )
    assert built.spec.encoder == "tiny-random" and built.spec.class_weight == "none"


# -- no string indexing of a sub-spec ------------------------------------------------------


def _reads_spec(node: ast.AST) -> bool:
    """`spec.<sub>`, `self.spec.<sub>`, `self.<sub>` (in CaseSpec), ...: a sub-spec."""
    if not (isinstance(node, ast.Attribute) and node.attr in SUB_SPECS):
        return False
    owner = node.value
    name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
    return name in ("spec", "case", "c", "self") or name.endswith("_spec")


def _unwrap(node: ast.AST) -> ast.AST:
    """`spec.gen or {}` -> `spec.gen`."""
    if isinstance(node, ast.BoolOp) and node.values:
        return node.values[0]
    return node


def string_indexing(source: str) -> list[str]:
    """`spec.<sub>[...]` / `spec.<sub>.get(...)` and the same on a name or attribute that was
    assigned a sub-spec (`fa = spec.freeal; fa["lr"]`, `self.gen = spec.generation`)."""
    tree = ast.parse(source)
    module_aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _reads_spec(_unwrap(node.value)):
            module_aliases |= {ast.unparse(t) for t in node.targets if isinstance(t, ast.Attribute)}
    found = []
    scopes = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for scope in scopes or [tree]:
        aliases = set(module_aliases)
        for node in ast.walk(scope):
            if isinstance(node, ast.Assign) and _reads_spec(_unwrap(node.value)):
                aliases |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        for node in ast.walk(scope):
            target = None
            if isinstance(node, ast.Subscript):
                target = node.value
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                target = node.func.value if node.func.attr == "get" else None
            if target is not None and (_reads_spec(target) or ast.unparse(target) in aliases):
                found.append(f"{node.lineno}: {ast.unparse(node)}")
    return sorted(set(found))


@pytest.mark.parametrize(
    "source",
    [
        'k = spec.generation["demos_per_label"]',
        'k = self.spec.selection.get("pool_factor", 1)',
        'def f(spec):\n    fa = spec.freeal\n    return fa["lr"]',
        'def f(spec):\n    gen = spec.generation or {}\n    return gen.get("seeds")',
        "class G:\n    def __init__(self, spec):\n        self.gen = spec.generation\n"
        "    def n(self):\n        return self.gen['per_request']",
    ],
)
def test_the_check_finds_string_indexing(source):
    assert string_indexing(source)


def test_the_check_lets_attributes_and_record_dicts_pass():
    source = (
        "def f(spec, record):\n    fa = spec.freeal\n    x = fa.lr + spec.generation.top_p\n"
        '    return record["spec"]["freeal"]["lr"], spec.to_dict()["seeds"]'
    )
    assert string_indexing(source) == []


def test_no_consumer_indexes_a_sub_spec_by_string():
    found = {}
    for folder in ("benchmark", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            hits = string_indexing(path.read_text(encoding="utf-8"))
            if hits:
                found[str(path.relative_to(ROOT))] = hits
    assert found == {}, "read sub-specs by attribute (CaseSpec holds typed models)"
