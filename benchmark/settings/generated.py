"""Generated settings: an LLM writes the training data (one setting per generation strategy)."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from benchmark.case.records import read_record, record_path
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
        examples, made = generated_set(
            spec, ctx, generation_seed=generation_seed, strategy=self.strategy
        )
        provenance = {k: v for k, v in made.items() if k != "generation"}
        return TrainingData(examples, provenance, generation_seed, details=made["generation"])

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
        generation = merge_generation(summaries)
        generation["cold"] = cold_generation_stats(spec, ctx, generation)
        return {
            "generation": generation,
            "quality": mean_quality(qualities),
            "train_label_counts_by_generation_seed": counts_by_set,
            "n_train": round(statistics.fmean(sum(c.values()) for c in counts_by_set.values()), 1),
        }


def cold_generation_stats(
    spec: CaseSpec, ctx: RunContext, generation: dict[str, Any]
) -> dict[str, Any] | None:
    """Throughput of the run that really called the model.

    A rerun served from the response cache keeps the cold figures of the record it replaces.
    """
    keys = ("stats", "samples_per_second", "tokens_per_second")
    if not generation.get("cache_hits"):
        return {k: generation[k] for k in keys}
    old = read_record(record_path(ctx.results_dir, spec.case_id)) or {}
    previous = old.get("generation") if old.get("spec_hash") == spec.spec_hash else None
    if not previous:
        return None
    if "cold" in previous:
        return previous["cold"]
    return None if previous.get("cache_hits") else {k: previous[k] for k in keys}


def generation_quality(
    spec: CaseSpec, ctx: RunContext, generated: list[Example], generation: dict[str, Any]
) -> dict[str, Any]:
    """Quality metrics of one generated set, against a gold sample of the same size."""
    train = ctx.data.split(spec.dataset, spec.language, "train")
    gold = sample_per_label(train, spec.samples_per_label, seed=spec.seeds[0])
    candidates: dict[str, int] = {}
    for counts in generation["per_label"].values():
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


def merge_generation(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """One `generation` block for a case: counts summed over its generated sets, `sets` and
    `kept_per_set` added, each set's own summary under `runs`."""
    first = summaries[0]
    if len(summaries) == 1:
        return {**first, "sets": 1, "kept_per_set": [first["kept"]]}
    per_label: dict[str, dict[str, int]] = {}
    for summary in summaries:
        for label, counts in summary["per_label"].items():
            slot = per_label.setdefault(label, {})
            for key, value in counts.items():
                slot[key] = slot.get(key, 0) + value
    stats = {
        key: sum(s["stats"][key] for s in summaries)
        for key in first["stats"]
        if all(isinstance(s["stats"][key], (int, float)) for s in summaries)
    }
    parse_dropped: dict[str, int] = {}
    for summary in summaries:
        for reason, count in summary["parse_dropped"].items():
            parse_dropped[reason] = parse_dropped.get(reason, 0) + count
    seconds = stats.get("seconds") or 0
    kept = sum(s["kept"] for s in summaries)
    return {
        **first,
        "seed": [s["seed"] for s in summaries],
        "sets": len(summaries),
        "kept_per_set": [s["kept"] for s in summaries],
        "per_label": per_label,
        "short_labels": sorted({label for s in summaries for label in s["short_labels"]}),
        "kept": kept,
        "demo_copies": sum(s["demo_copies"] for s in summaries),
        "rejected": sum(s["rejected"] for s in summaries),
        "parse_dropped": dict(sorted(parse_dropped.items())),
        "stats": stats,
        "samples_per_second": round(kept / seconds, 3) if seconds else None,
        "tokens_per_second": round(stats["completion_tokens"] / seconds, 2) if seconds else None,
        "cache_hits": sum(s["cache_hits"] for s in summaries),
        **({"gates": merge_gates([s["gates"] for s in summaries])} if "gates" in first else {}),
        "runs": summaries,
    }


def merge_gates(per_set: list[dict[str, Any]]) -> dict[str, Any]:
    """The gate counts of every generated set added up (each set's own stay under `runs`)."""
    names = per_set[0]["names"]
    per_label: dict[str, dict[str, int]] = {}
    for gates in per_set:
        for label, counts in gates["dropped_per_label"].items():
            slot = per_label.setdefault(label, dict.fromkeys(names, 0))
            for name, count in counts.items():
                slot[name] = slot.get(name, 0) + count
    return {
        "names": names,
        "gated": sum(g["gated"] for g in per_set),
        "dropped": {n: sum(g["dropped"].get(n, 0) for g in per_set) for n in names},
        "dropped_per_label": per_label,
    }
