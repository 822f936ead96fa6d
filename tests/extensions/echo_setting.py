"""A setting registered from outside `benchmark/`: the first `samples_per_label` gold train
examples of each label, the same for every seed (no LLM, no matched gold control)."""

from __future__ import annotations

from typing import Any

from benchmark.case.spec import CaseSpec, TaskFile
from benchmark.data.loaders import load_split
from benchmark.settings import SETTINGS, CaseBase, TrainingData
from benchmark.settings.base import classifier_grid


class EchoSetting:
    name = "echo"
    calls_llm = False
    llm_writes_data = False
    trains_own_model = False
    baseline = False
    reported_apart = False

    def cases(self, task: TaskFile, base: CaseBase, models: list[str | None]) -> list[CaseSpec]:
        return classifier_grid(
            task, base, [None], selections=["none"], augmentations=["none"], gate_sets=["none"]
        )

    def data_problem(
        self, task: TaskFile, counts: dict[str, int], *, where: str
    ) -> tuple[str, str] | None:
        return None

    def generation_seeds(self, spec: CaseSpec) -> list[int | None]:
        return [None]

    def training_data(
        self, spec: CaseSpec, ctx: Any, *, seed: int, generation_seed: int | None
    ) -> TrainingData:
        train = load_split(spec.dataset, spec.language, "train", data_dir=ctx.data_dir)
        taken: dict[str, int] = {}
        chosen = []
        for example in train.examples:
            if taken.get(example.label, 0) < spec.samples_per_label:
                taken[example.label] = taken.get(example.label, 0) + 1
                chosen.append(example)
        return TrainingData(chosen, {"source": train.fingerprint, "rule": "first k per label"})

    def matched_gold(self, spec: CaseSpec) -> bool:
        return False

    def record_block(self, spec: CaseSpec, ctx: Any, runs: list[TrainingData]) -> dict[str, Any]:
        return {"extra": {"echo": {"uids": [e.uid for e in runs[0].examples]}}}


SETTINGS.add("echo", EchoSetting())
