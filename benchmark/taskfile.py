"""Reading a task YAML file into validated `CaseSpec`s, with errors a user can act on."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from benchmark.settings import SETTINGS, CaseBase, setting_of
from benchmark.spec import (
    CLASSIFIER_NAMES,
    KNOWN_ENCODERS,
    CaseSpec,
    EmbedLogregSpec,
    FinetuneSpec,
    GenerationOptions,
    TaskFile,
    TaskFileError,
    did_you_mean,
)

# Generated settings ask the LLM for n samples per label; 100x the study's n is surely a typo.
MAX_GENERATED_PER_LABEL = 10_000

_SUBMODELS: dict[str, type[BaseModel]] = {
    "generation": TaskFile.model_fields["generation"].annotation,  # type: ignore[dict-item]
    "selection": TaskFile.model_fields["selection"].annotation,  # type: ignore[dict-item]
    "freeal": TaskFile.model_fields["freeal"].annotation,  # type: ignore[dict-item]
    "embed-logreg": EmbedLogregSpec,
    "finetune": FinetuneSpec,
}


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML would keep the last)."""

    def construct_mapping(self, node, deep=False):
        seen: dict[str, int] = {}
        if isinstance(node, yaml.MappingNode):
            for (
                key_node,
                _,
            ) in node.value:  # the mapping's own keys (a `<<:` merge may be overridden)
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                    continue
                line = key_node.start_mark.line + 1
                if key_node.value in seen:
                    raise _DuplicateKey(key_node.value, seen[key_node.value], line)
                seen[key_node.value] = line
        return super().construct_mapping(node, deep=deep)


class _DuplicateKey(Exception):
    def __init__(self, key: str, first: int, again: int) -> None:
        super().__init__(key)
        self.key, self.first, self.again = key, first, again


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse a YAML mapping; a syntax error becomes a `TaskFileError` with the line."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise TaskFileError(
            path, "<file>", f"not UTF-8 (byte {err.start}); save the task file as UTF-8"
        ) from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as dup:
        raise TaskFileError(
            path,
            f"line {dup.again}",
            f"key {dup.key!r} appears twice in one mapping (first on line {dup.first}); "
            "YAML would silently keep the last one: keep one",
        ) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "<yaml>"
        raise TaskFileError(path, where, f"invalid YAML: {getattr(err, 'problem', err)}") from None
    if not isinstance(raw, dict):
        raise TaskFileError(
            path, "<top level>", f"expected a mapping of keys, got {type(raw).__name__}"
        )
    return raw


def source_path(path: Path) -> str:
    """A task file's path as records keep it: relative to its repository (or the working dir).

    Records are compared and committed across machines, so an absolute path says nothing.
    """
    path = Path(path).resolve()
    for parent in path.parents:
        if (parent / ".git").exists():
            return path.relative_to(parent).as_posix()
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in CLASSIFIER_NAMES or str(part).startswith("function-"):
            continue  # pydantic's union-branch tags
        else:
            out += f".{part}" if out else str(part)
    return out or "<top level>"


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """Known keys of the model that holds the error location (for did-you-mean)."""
    parents = [p for p in loc[:-1] if not isinstance(p, int)]
    model: type[BaseModel] = TaskFile
    for part in parents:
        model = _SUBMODELS.get(str(part), model)
    return sorted(model.model_fields)


def _explain(path: Path, err: ValidationError, raw: dict[str, Any]) -> TaskFileError:
    first = err.errors()[0]
    loc, kind = tuple(first["loc"]), first["type"]
    key = _key_path(loc)
    if kind == "extra_forbidden":
        name = str(loc[-1])
        return TaskFileError(
            path,
            key,
            f"unknown key {name!r}{did_you_mean(name, _fields_at(loc))}; "
            f"known keys: {', '.join(_fields_at(loc))}",
        )
    if kind in ("literal_error", "union_tag_invalid"):
        expected = first.get("ctx", {}).get("expected", "") or first.get("ctx", {}).get(
            "expected_tags", ""
        )
        value = first.get("input")
        if isinstance(value, dict):
            value = value.get("name")
        choices = [
            c.strip(" '") for c in str(expected).replace(" or ", ",").split(",") if c.strip(" '")
        ]
        return TaskFileError(
            path, key, f"unknown value {value!r}", value=str(value), choices=choices
        )
    extra = f" (got {first.get('input')!r})" if kind not in ("missing",) else ""
    return TaskFileError(path, key, f"{first['msg']}{extra}")


def _check_names(path: Path, task: TaskFile) -> None:
    from benchmark.languages import UnknownLanguageError, resolve_language

    for i, setting in enumerate(task.settings):
        if setting not in SETTINGS:
            raise TaskFileError(
                path,
                f"settings[{i}]",
                f"unknown setting {setting!r}",
                value=setting,
                choices=SETTINGS.names(),
            )
    for dataset in task.datasets:
        for i, code in enumerate(task.languages):
            try:
                resolve_language(code, dataset=dataset)
            except UnknownLanguageError as err:
                raise TaskFileError(path, f"languages[{i}]", str(err)) from None
    from benchmark.selection import POOL_METHODS, SELECTORS

    known = ("none", *SELECTORS, *POOL_METHODS)
    for i, name in enumerate(task.selections):
        if name not in known:
            raise TaskFileError(
                path, f"selections[{i}]", f"unknown selection {name!r}", value=name, choices=known
            )
    from benchmark.augment import AUGMENTATIONS

    for i, name in enumerate(task.augmentations):
        if name not in ("none", *AUGMENTATIONS):
            raise TaskFileError(
                path,
                f"augmentations[{i}]",
                f"unknown augmentation {name!r}",
                value=name,
                choices=("none", *AUGMENTATIONS),
            )
    from benchmark.generation.gates import GATES, parse_gate_set

    for i, entry in enumerate(task.gates):
        for name in entry.split("+"):
            if name.strip() not in ("none", *GATES):
                raise TaskFileError(
                    path,
                    f"gates[{i}]",
                    f"unknown gate {name!r}",
                    value=name,
                    choices=("none", *GATES),
                )
        try:
            parse_gate_set(entry)
        except ValueError as err:
            raise TaskFileError(path, f"gates[{i}]", str(err)) from None
    if _calls_llm(task) and not task.models:
        raise TaskFileError(
            path,
            "models",
            "generated and freeal settings need at least one model (an alias, a local directory or a Hugging Face id)",
        )
    sources = ("gold", "none", *(s for s in SETTINGS if setting_of(s).llm_writes_data))
    for i, source in enumerate(task.freeal.demo_sources):
        if source not in sources:
            raise TaskFileError(
                path,
                f"freeal.demo_sources[{i}]",
                f"unknown demo source {source!r}",
                value=source,
                choices=sources,
            )
    _check_seeds_and_sizes(path, task)
    if _calls_llm(task):
        _check_backend(path, task)
    for i, model in enumerate(task.models):
        _check_model(path, f"models[{i}]", model)
    for i, clf in enumerate(task.classifiers):
        _check_encoder(path, f"classifiers[{i}].encoder", clf.encoder)


def _calls_llm(task: TaskFile) -> bool:
    return any(setting_of(s).calls_llm for s in task.settings)


def _check_seeds_and_sizes(path: Path, task: TaskFile) -> None:
    seen: dict[int, int] = {}
    for i, seed in enumerate(task.seeds):
        if seed in seen:
            raise TaskFileError(
                path,
                f"seeds[{i}]",
                f"seed {seed} is listed twice (also seeds[{seen[seed]}]); a repeated seed "
                "would be counted twice in the mean and shrink the std",
            )
        seen[seed] = i
    if _calls_llm(task):
        for i, n in enumerate(task.samples_per_label):
            if n > MAX_GENERATED_PER_LABEL:
                raise TaskFileError(
                    path,
                    f"samples_per_label[{i}]",
                    f"{n} per label is more than the {MAX_GENERATED_PER_LABEL} a generated "
                    "setting allows (the study uses 100)",
                )


def _check_backend(path: Path, task: TaskFile) -> None:
    """Backend name and option keys, checked without loading anything."""
    from benchmark.errors import BackendConfigError
    from benchmark.llm.backend import check_backend_options

    gen = task.generation
    try:
        check_backend_options(gen.backend, gen.backend_options)
    except BackendConfigError as err:
        key = (
            "generation.backend" if "unknown backend" in str(err) else "generation.backend_options"
        )
        raise TaskFileError(path, key, str(err)) from None


def _check_model(path: Path, key: str, ref: str) -> None:
    from benchmark.llm.models import known_model_aliases

    aliases = known_model_aliases()
    if ref in aliases or "/" in ref or Path(ref).expanduser().is_dir():
        return
    raise TaskFileError(
        path,
        key,
        f"unknown model {ref!r} (not an alias, a directory or an org/name hub id)",
        value=ref,
        choices=aliases,
    )


def _check_encoder(path: Path, key: str, ref: str) -> None:
    if ref in KNOWN_ENCODERS or "/" in ref or Path(ref).expanduser().is_dir():
        return
    raise TaskFileError(
        path, key, f"unknown encoder {ref!r}", value=ref, choices=sorted(KNOWN_ENCODERS)
    )


def _check_data(path: Path, task: TaskFile, data_dir: Path | str | None) -> None:
    """Sizes the data cannot meet (each setting says which): exact-n requests, too many
    demos, a FreeAL pool as large as the split."""
    from benchmark.data import load_split

    settings = [setting_of(name) for name in SETTINGS if name in task.settings]
    for dataset, code in itertools.product(task.datasets, task.languages):
        counts = load_split(dataset, code, "train", data_dir=data_dir).label_counts
        for setting in settings:
            problem = setting.data_problem(task, counts, where=f"{dataset}/{code} train")
            if problem:
                raise TaskFileError(path, *problem)


def load_cases(
    path: Path, *, data_dir: Path | str | None = None, check_data: bool = True
) -> list[CaseSpec]:
    """Validate a task file and expand its matrix into cases.

    Args:
        path: the YAML task file.
        data_dir: data root used to check that requested sizes exist.
        check_data: read the train splits to check sizes (off only in unit tests of the schema).

    Returns:
        Cases in matrix order (dataset, language, setting, model, size, classifier).
    """
    from benchmark.languages import resolve_language

    raw = read_yaml(path)
    try:
        task = TaskFile.model_validate(raw)
    except ValidationError as err:
        raise _explain(path, err, raw) from None
    _check_names(path, task)
    if check_data:
        _check_data(path, task, data_dir)
    cases = []
    for dataset, code, name in itertools.product(task.datasets, task.languages, task.settings):
        setting = setting_of(name)
        base = CaseBase(
            dataset=dataset,
            language=resolve_language(code, dataset=dataset).code,
            setting=name,
            gold_sampling=task.gold_sampling,
            seeds=tuple(task.seeds),
            generation=generation_dict(task.generation),
            source=source_path(path),
            marks=tuple(task.marks),
        )
        cases.extend(setting.cases(task, base, task.models if setting.calls_llm else [None]))
    _check_unique(path, cases)
    return cases


def generation_dict(options: GenerationOptions) -> dict[str, Any]:
    """A case's generation options with its generation seeds resolved (`seed` folded into
    `seeds`)."""
    out = options.model_dump(exclude={"seed"})
    out["seeds"] = options.generation_seeds()
    return out


def _check_unique(path: Path, cases: list[CaseSpec]) -> None:
    seen: set[str] = set()
    for case in cases:
        if case.case_id in seen:
            raise TaskFileError(
                path, "<matrix>", f"case id {case.case_id!r} appears twice (repeated list entries?)"
            )
        seen.add(case.case_id)
