"""The gold baseline: a sample of the gold train split per seed."""

from __future__ import annotations

from typing import Any

from benchmark.augment import AUGMENTERS
from benchmark.case.spec import CaseSpec, TaskFile
from benchmark.context import RunContext
from benchmark.data.loaders import sample_per_label
from benchmark.settings.base import CaseBase, TrainingData, classifier_grid


class GoldSetting:
    """`samples_per_label` gold train examples per label, drawn with the run's seed."""

    name = "gold"
    calls_llm = False
    llm_writes_data = False
    trains_own_model = False
    baseline = True
    reported_apart = False

    def cases(self, task: TaskFile, base: CaseBase, models: list[str | None]) -> list[CaseSpec]:
        augmentations = [
            a for a in task.augmentations if a == "none" or not AUGMENTERS.get(a).uses_llm
        ]
        return classifier_grid(
            task, base, [None], selections=["none"], augmentations=augmentations, gate_sets=["none"]
        )

    def data_problem(
        self, task: TaskFile, counts: dict[str, int], *, where: str
    ) -> tuple[str, str] | None:
        for n in task.samples_per_label:
            short = {k: v for k, v in counts.items() if v < n}
            if task.gold_sampling == "exact" and short:
                return (
                    "samples_per_label",
                    f"{n} per label requested with gold_sampling: exact, but {where} has only {short}",
                )
            if n > max(counts.values()):
                return (
                    "samples_per_label",
                    f"{n} per label is more than any label of {where} has (largest: {max(counts.values())})",
                )
        return None

    def generation_seeds(self, spec: CaseSpec) -> list[int | None]:
        return [None]

    def training_data(
        self, spec: CaseSpec, ctx: RunContext, *, seed: int, generation_seed: int | None
    ) -> TrainingData:
        train = ctx.data.split(spec.dataset, spec.language, "train")
        chosen = sample_per_label(
            train, spec.samples_per_label, seed=seed, exact=spec.gold_sampling == "exact"
        )
        return TrainingData(chosen, {"source": train.fingerprint})

    def matched_gold(self, spec: CaseSpec) -> bool:
        return spec.augmentation is not None  # augmented gold is compared with plain gold

    def record_block(
        self, spec: CaseSpec, ctx: RunContext, runs: list[TrainingData]
    ) -> dict[str, Any]:
        return {}
