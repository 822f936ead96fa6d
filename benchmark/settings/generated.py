"""Generated settings: an LLM writes the training data (one setting per generation strategy)."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from benchmark.case.records import Record, read_record, record_path
from benchmark.case.results import CaseGeneration, GenerationSummary, Throughput
from benchmark.case.spec import CaseSpec, TaskFile
from benchmark.context import RunContext
from benchmark.data.loaders import Example, sample_per_label
from benchmark.generation.gates import vocabulary_or_none
from benchmark.generation.pipeline import generated_set
from benchmark.quality import generated_set_quality
from benchmark.settings.base import CaseBase, TrainingData, classifier_grid
from benchmark.strategies import GenerationStrategy


class GeneratedSetting:
    """The classifier trains on what the LLM generated with one strategy's prompts, once per
    generation seed; every run also gets a matched gold control."""

    calls_llm = True
    llm_writes_data = True
    trains_own_model = False
    baseline = False
    reported_apart = False

    def __init__(self, strategy: GenerationStrategy) -> None:
        self.strategy = strategy
        self.name = strategy.name

    def __repr__(self) -> str:
        return f"GeneratedSetting({self.name!r})"

    def cases(self, task: TaskFile, base: CaseBase, models: list[str | None]) -> list[CaseSpec]:
        return classifier_grid(
            task,
            base,
            models,
            selections=task.selections,
            augmentations=task.augmentations,
            gate_sets=task.gates,
        )

    def data_problem(
        self, task: TaskFile, counts: dict[str, int], *, where: str
    ) -> tuple[str, str] | None:
        demos = task.generation.demos_per_label
        if demos > min(counts.values()):
            return (
                "generation.demos_per_label",
                f"{demos} demos per label, but {where} has a label with only {min(counts.values())}",
            )
        return None

    def generation_seeds(self, spec: CaseSpec) -> list[int | None]:
        return list(spec.generation_seeds) or [None]

    def training_data(
        self, spec: CaseSpec, ctx: RunContext, *, seed: int, generation_seed: int | None
    ) -> TrainingData:
        if generation_seed is None:
            generation_seed = self.generation_seeds(spec)[0]
        examples, summary = generated_set(
            spec, ctx, generation_seed=generation_seed, strategy=self.strategy
        )
        return TrainingData(examples, {}, generation_seed, details=summary)

    def matched_gold(self, spec: CaseSpec) -> bool:
        return True

    def record_block(
        self, spec: CaseSpec, ctx: RunContext, runs: list[TrainingData]
    ) -> dict[str, Any]:
        last_of_set = {run.generation_seed: run for run in runs}  # runs of a set share its data
        if None in last_of_set:
            return {}
        counts_by_set = {
            str(g): dict(sorted(Counter(e.label for e in run.examples).items()))
            for g, run in last_of_set.items()
        }
        summaries = [run.details for run in last_of_set.values()]
        qualities = [
            generation_quality(
                spec, ctx, [e for e in run.examples if e.split == "generated"], run.details
            )
            for run in last_of_set.values()
        ]
        generation = CaseGeneration.merged(summaries)
        generation = generation.replace(cold=cold_generation_stats(spec, ctx, generation))
        return {
            "generation": generation,
            "quality": mean_quality(qualities),
            "train_label_counts_by_generation_seed": counts_by_set,
            "n_train": round(statistics.fmean(sum(c.values()) for c in counts_by_set.values()), 1),
        }


def cold_generation_stats(
    spec: CaseSpec, ctx: RunContext, generation: CaseGeneration
) -> Throughput | None:
    """Throughput of the run that really called the model.

    A rerun served from the response cache keeps the cold figures of the record it replaces.
    """
    if not generation.cache_hits:
        return generation.throughput
    old = read_record(record_path(ctx.results_dir, spec.case_id))
    previous = Record.from_dict(old) if old else None
    if previous is None or previous.spec_hash != spec.spec_hash or not previous.generation:
        return None
    return previous.generation.cold_throughput


def generation_quality(
    spec: CaseSpec, ctx: RunContext, generated: list[Example], generation: GenerationSummary
) -> dict[str, Any]:
    """Quality metrics of one generated set, against a gold sample of the same size."""
    train = ctx.data.split(spec.dataset, spec.language, "train")
    gold = sample_per_label(train, spec.samples_per_label, seed=spec.seeds[0])
    candidates: dict[str, int] = {}
    for counts in generation.per_label.values():
        for status, count in counts.items():
            if status not in ("prompts", "tokens"):
                candidates[status] = candidates.get(status, 0) + count
    encoder = spec.classifier.quality_encoder()
    return generated_set_quality(
        [(e.text, e.label) for e in generated],
        language=spec.language,
        gold=[(e.text, e.label) for e in gold],
        encoder=encoder,
        load_embedder=ctx.embedder,
        candidates=candidates,
        vocabulary=vocabulary_or_none(spec.language, data_dir=ctx.data_dir),
    )


def mean_quality(per_set: list[dict[str, Any]]) -> dict[str, Any]:
    """The quality block of a case: numeric metrics averaged over its generated sets."""
    if len(per_set) == 1:
        return per_set[0]
    out: dict[str, Any] = {}
    for key in per_set[0]:
        values = [q.get(key) for q in per_set]
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        out[key] = round(statistics.fmean(numbers), 6) if len(numbers) == len(values) else None
    out["per_set"] = per_set
    return out
