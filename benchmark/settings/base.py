"""What a setting is: how a task file's setting name turns into cases, training data and the
setting's own block of the result record."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Protocol

from benchmark.case.block import Block
from benchmark.case.spec import (
    AugmentationSpec,
    CaseSpec,
    GenerationOptions,
    SelectionSpec,
    TaskFile,
)
from benchmark.context import RunContext
from benchmark.data.loaders import Example
from benchmark.generation.gates import gate_spec


@dataclass(frozen=True)
class CaseBase:
    """The fields every case of one (dataset, language, setting) cell of a task file shares."""

    dataset: str
    language: str
    setting: str
    gold_sampling: str
    seeds: tuple[int, ...]
    generation: GenerationOptions
    source: str
    marks: tuple[str, ...]


@dataclass
class TrainingData:
    """The training data of one (generation seed, seed) run and how it was made.

    Attributes:
        examples: what the case's classifier trains on.
        provenance: the record's `data.train` block.
        generation_seed: the generated set the run used (None when nothing was generated).
        details: the setting's own account of the run (a `GenerationSummary`, a `FreeALRun`).
        scores: set when the setting trained and scored its own model (the runner then fits
            no classifier).
        fit_seconds: training time, when the setting trained its own model.
    """

    examples: list[Example]
    provenance: dict[str, Any]
    generation_seed: int | None = None
    details: Block | None = None
    scores: dict[str, float] | None = None
    fit_seconds: float = 0.0


class Setting(Protocol):
    """One way of getting a case's training data (gold sample, LLM-generated, FreeAL, ...).

    Attributes:
        name: the name task files, case ids and `pytest -k` use.
        calls_llm: the setting needs a model (task files must list `models`).
        llm_writes_data: an LLM writes the training data (selections, gates and LLM
            augmentations apply; generation sizes are checked).
        trains_own_model: the setting trains and scores its own model, so runs carry `scores`
            and the record has no classifier fit, predictions or matched gold control.
        baseline: the gold baseline other rows are compared with.
        reported_apart: the leaderboard shows the setting in its own section (FreeAL), not
            in the macro-F1 tables.
    """

    name: str
    calls_llm: bool
    llm_writes_data: bool
    trains_own_model: bool
    baseline: bool
    reported_apart: bool

    def cases(self, task: TaskFile, base: CaseBase, models: list[str | None]) -> list[CaseSpec]:
        """The cases of one (dataset, language) cell of a task file, in matrix order."""
        ...

    def data_problem(
        self, task: TaskFile, counts: dict[str, int], *, where: str
    ) -> tuple[str, str] | None:
        """(task-file key, message) when the train split's label `counts` cannot serve the
        task file's sizes; None when they can."""
        ...

    def generation_seeds(self, spec: CaseSpec) -> list[int | None]:
        """One training set per entry; `[None]` when nothing is generated."""
        ...

    def training_data(
        self, spec: CaseSpec, ctx: RunContext, *, seed: int, generation_seed: int | None
    ) -> TrainingData:
        """The training data of one (generation seed, seed) run."""
        ...

    def matched_gold(self, spec: CaseSpec) -> bool:
        """Whether the case also trains on gold data with the same label counts."""
        ...

    def record_block(
        self, spec: CaseSpec, ctx: RunContext, runs: list[TrainingData]
    ) -> dict[str, Any]:
        """The setting's own record fields (e.g. `generation` and `quality`, or `freeal`)."""
        ...


def classifier_grid(
    task: TaskFile,
    base: CaseBase,
    models: list[str | None],
    *,
    selections: list[str],
    augmentations: list[str],
    gate_sets: list[str],
) -> list[CaseSpec]:
    """Cases over models x sizes x selections x augmentations x gate sets x classifiers."""
    grid = itertools.product(
        models, task.samples_per_label, selections, augmentations, gate_sets, task.classifiers
    )
    return [
        CaseSpec(
            dataset=base.dataset,
            language=base.language,
            setting=base.setting,
            model=model,
            samples_per_label=n,
            gold_sampling=base.gold_sampling,
            seeds=base.seeds,
            classifier=clf.complete(),
            generation=base.generation if model else None,
            selection=None
            if selection == "none"
            else SelectionSpec.of({"method": selection, **task.selection.model_dump()}),
            augmentation=None
            if augmentation == "none"
            else AugmentationSpec.of({"method": augmentation}),
            gates=gate_spec(gate_set),
            source=base.source,
            marks=base.marks,
        )
        for model, n, selection, augmentation, gate_set, clf in grid
    ]
