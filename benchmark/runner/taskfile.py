"""Reading a task YAML file into validated `CaseSpec`s, with errors a user can act on."""

from __future__ import annotations

import functools
import importlib
import itertools
import operator
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError, create_model

from benchmark.augment import AUGMENTERS
from benchmark.case.spec import (
    CLASSIFIERS,
    CaseSpec,
    ClassifierOptions,
    GenerationOptions,
    TaskFile,
    TaskFileError,
    default_classifiers,
    did_you_mean,
)
from benchmark.case.taskyaml import INCLUDE_KEY, blame_included, read_task_yaml
from benchmark.data.languages import UnknownLanguageError, resolve_language
from benchmark.data.loaders import DATASETS, dataset_labels, load_split
from benchmark.encoders.embedder import ENCODERS
from benchmark.errors import BackendConfigError
from benchmark.generation.gates import GATES, parse_gate_set
from benchmark.generation.labels import undescribed_labels
from benchmark.llm.backend import check_backend_options
from benchmark.llm.models import (
    known_model_aliases,
    looks_like_path,
    missing_path_message,
    model_directory_problem,
)
from benchmark.selection import POOL_METHODS, SELECTORS
from benchmark.settings import SETTINGS, CaseBase, setting_of
from benchmark.strategies import GenerationStrategy

# Generated settings ask the LLM for n samples per label; 100x the study's n is surely a typo.
MAX_GENERATED_PER_LABEL = 10_000

_SUBMODELS: dict[str, type[BaseModel]] = {
    "generation": TaskFile.model_fields["generation"].annotation,  # type: ignore[dict-item]
    "selection": TaskFile.model_fields["selection"].annotation,  # type: ignore[dict-item]
    "freeal": TaskFile.model_fields["freeal"].annotation,  # type: ignore[dict-item]
}


def task_schema() -> type[TaskFile]:
    """`TaskFile` whose `classifiers` take the options of every registered classifier."""
    return _task_schema(tuple(CLASSIFIERS.get(name) for name in CLASSIFIERS))


@functools.cache
def _task_schema(options: tuple[type[ClassifierOptions], ...]) -> type[TaskFile]:
    choice: Any = functools.reduce(operator.or_, options)
    if len(options) > 1:
        choice = Annotated[choice, Field(discriminator="name")]
    return create_model(
        "TaskFile",
        __base__=TaskFile,
        __doc__=TaskFile.__doc__,
        classifiers=(list[choice], Field(default_factory=default_classifiers)),
    )


def import_plugins(path: Path, raw: dict[str, Any]) -> None:
    """Import the task file's `plugins:` modules, so that their registrations count.

    Raises:
        TaskFileError: `plugins` is not a list of module names, or one cannot be imported.
    """
    plugins = raw.get("plugins", [])
    plugins = [plugins] if isinstance(plugins, str) else plugins
    if not isinstance(plugins, list):
        raise TaskFileError(path, "plugins", "expected a list of importable module names")
    for i, name in enumerate(plugins):
        if not isinstance(name, str) or not name.strip():
            raise TaskFileError(path, f"plugins[{i}]", f"expected a module name, got {name!r}")
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise TaskFileError(path, f"plugins[{i}]", f"cannot import {name!r}: {err}") from None


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
        elif part in CLASSIFIERS or str(part).startswith("function-"):
            continue  # pydantic's union-branch tags
        else:
            out += f".{part}" if out else str(part)
    return out or "<top level>"


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """Known keys of the model that holds the error location (for did-you-mean)."""
    parents = [p for p in loc[:-1] if not isinstance(p, int)]
    model: type[BaseModel] = TaskFile
    for part in parents:
        if str(part) in CLASSIFIERS:
            model = CLASSIFIERS.get(str(part))
        model = _SUBMODELS.get(str(part), model)
    return sorted([*model.model_fields, *([INCLUDE_KEY] if model is TaskFile else [])])


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
    extra = f" (got {_short(first.get('input'))})" if kind not in ("missing",) else ""
    return TaskFileError(path, key, f"{first['msg']}{extra}")


def _short(value: Any, limit: int = 200) -> str:
    """A value's repr for a message, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 40]}... ({len(text):,} characters)"


def _check_names(path: Path, task: TaskFile) -> None:
    for i, setting in enumerate(task.settings):
        if setting not in SETTINGS:
            raise TaskFileError(
                path,
                f"settings[{i}]",
                f"unknown setting {setting!r}",
                value=setting,
                choices=SETTINGS.names(),
            )
    _check_registered(path, "datasets", task.datasets, "dataset", DATASETS.names())
    _check_languages(path, task)
    selections = ("none", *SELECTORS, *POOL_METHODS)
    _check_registered(path, "selections", task.selections, "selection", selections)
    augmentations = ("none", *AUGMENTERS)
    _check_registered(path, "augmentations", task.augmentations, "augmentation", augmentations)

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
        if "encoder" in type(clf).model_fields:
            _check_encoder(path, f"classifiers[{i}].encoder", clf.encoder)


def _check_languages(path: Path, task: TaskFile) -> None:
    """Each language is a benchmark language the task file's datasets have files for."""
    for dataset in task.datasets:
        entry = DATASETS.get(dataset)
        for i, code in enumerate(task.languages):
            try:
                lang = resolve_language(code, dataset=dataset)
            except UnknownLanguageError as err:
                raise TaskFileError(path, f"languages[{i}]", str(err)) from None
            if not entry.has_language(lang.code):
                raise TaskFileError(
                    path,
                    f"languages[{i}]",
                    f"dataset {dataset!r} has no {lang.name} ({lang.code}) data; its languages: "
                    f"{', '.join(entry.languages or ())}",
                )


def _shows_human_descriptions(task: TaskFile) -> list[tuple[int, str]]:
    """(index, name) of each setting whose prompts show the human-written label descriptions."""
    revision = task.generation.revision_description
    found = []
    for i, name in enumerate(task.settings):
        strategy = getattr(setting_of(name), "strategy", None)
        if isinstance(strategy, GenerationStrategy) and strategy.shows_human_descriptions(revision):
            found.append((i, name))
    return found


def _check_descriptions(
    path: Path, task: TaskFile, *, data_dir: Path | str | None, read_data: bool
) -> None:
    """Every label of each dataset has a human-written description when a setting shows them
    (the labels of a dataset whose label set comes from its data: only when `read_data`)."""
    for i, name in _shows_human_descriptions(task):
        for dataset in task.datasets:
            labels = DATASETS.get(dataset).labels
            if labels is None and read_data:
                labels = dataset_labels(dataset, data_dir=data_dir)
            missing = undescribed_labels(dataset, labels or ())
            if missing:
                raise TaskFileError(
                    path,
                    f"settings[{i}]",
                    f"{name} shows the human-written label descriptions, but dataset "
                    f"{dataset!r} has none for label(s) {', '.join(map(repr, missing))} (its "
                    "registry entry's `descriptions`)",
                )


def _check_registered(
    path: Path, key: str, values: list[str], kind: str, known: Sequence[str]
) -> None:
    for i, name in enumerate(values):
        if name not in known:
            raise TaskFileError(
                path, f"{key}[{i}]", f"unknown {kind} {name!r}", value=name, choices=known
            )


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

    gen = task.generation
    try:
        check_backend_options(gen.backend, gen.backend_options)
    except BackendConfigError as err:
        key = (
            "generation.backend" if "unknown backend" in str(err) else "generation.backend_options"
        )
        raise TaskFileError(path, key, str(err)) from None


def _check_model(path: Path, key: str, ref: str) -> None:
    aliases = known_model_aliases()
    if ref in aliases:
        return
    local = Path(ref).expanduser()
    if local.is_dir():
        problem = model_directory_problem(local)
        if problem:
            raise TaskFileError(path, key, problem)
        return
    if local.is_file() and local.suffix == ".gguf":
        return
    if looks_like_path(ref):
        raise TaskFileError(path, key, missing_path_message(ref))
    if "/" in ref:
        return
    raise TaskFileError(
        path,
        key,
        f"unknown model {ref!r} (not an alias, a directory or an org/name hub id)",
        value=ref,
        choices=aliases,
    )


def _check_encoder(path: Path, key: str, ref: str) -> None:
    if ref in ENCODERS or "/" in ref or Path(ref).expanduser().is_dir():
        return
    raise TaskFileError(
        path, key, f"unknown encoder {ref!r}", value=ref, choices=sorted(ENCODERS.names())
    )


def _check_data(path: Path, task: TaskFile, data_dir: Path | str | None) -> None:
    """Sizes the data cannot meet (each setting says which): exact-n requests, too many
    demos, a FreeAL pool as large as the split."""

    settings = [setting_of(name) for name in SETTINGS if name in task.settings]
    for dataset, code in itertools.product(task.datasets, task.languages):
        counts = load_split(dataset, code, "train", data_dir=data_dir).label_counts
        for setting in settings:
            problem = setting.data_problem(task, counts, where=f"{dataset}/{code} train")
            if problem:
                raise TaskFileError(path, *problem)


def _validated(
    path: Path, raw: dict[str, Any], *, data_dir: Path | str | None, check_data: bool
) -> TaskFile:
    try:
        task = task_schema().model_validate(raw)
    except ValidationError as err:
        raise _explain(path, err, raw) from None
    _check_names(path, task)
    _check_descriptions(path, task, data_dir=data_dir, read_data=check_data)
    if check_data:
        _check_data(path, task, data_dir)
    return task


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

    raw, origins = read_task_yaml(path)
    try:
        import_plugins(path, raw)
        task = _validated(path, raw, data_dir=data_dir, check_data=check_data)
    except TaskFileError as err:
        raise blame_included(err, path, origins) from None
    cases = []
    for dataset, code, name in itertools.product(task.datasets, task.languages, task.settings):
        setting = setting_of(name)
        base = CaseBase(
            dataset=dataset,
            language=resolve_language(code, dataset=dataset).code,
            setting=name,
            gold_sampling=task.gold_sampling,
            seeds=tuple(task.seeds),
            generation=case_generation(task.generation),
            source=source_path(path),
            marks=tuple(task.marks),
        )
        cases.extend(setting.cases(task, base, task.models if setting.calls_llm else [None]))
    _check_unique(path, cases)
    return cases


def case_generation(options: GenerationOptions) -> GenerationOptions:
    """A case's generation options: every field stored but the legacy `seed`, which is folded
    into `seeds`."""
    out = options.model_dump(exclude={"seed"})
    out["seeds"] = options.generation_seeds()
    return GenerationOptions.of(out)


def _check_unique(path: Path, cases: list[CaseSpec]) -> None:
    seen: dict[str, CaseSpec] = {}
    for case in cases:
        first = seen.setdefault(case.case_id, case)
        if first is not case:
            problem = clash_problem(first, case) or "repeated list entries?"
            raise TaskFileError(
                path, "<matrix>", f"case id {case.case_id!r} appears twice ({problem})"
            )


def clash_problem(a: CaseSpec, b: CaseSpec) -> str | None:
    """Why two different specs got one case id (their records would overwrite each other), or
    None when the specs are the same."""
    if a.spec_hash == b.spec_hash:
        return None
    if a.model != b.model:
        return (
            f"models {a.model!r} and {b.model!r} share the name the id keeps (the last part of a "
            "path or hub id): their records would overwrite each other; give one directory "
            "another name"
        )
    return "two different specs, one id: their records would overwrite each other"
