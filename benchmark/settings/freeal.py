"""The FreeAL setting: an LLM annotates a pool of gold train texts (labels hidden) and a small
model, trained on what it labels, feeds back demos and texts to re-annotate, round by round."""

from __future__ import annotations

import itertools
from typing import Any

from benchmark.case.records import empty_predictions, save_predictions
from benchmark.case.results import FreeALBlock, FreeALRound, FreeALRun
from benchmark.case.spec import CaseSpec, FreeALSpec, TaskFile
from benchmark.context import RunContext
from benchmark.freeal.rounds import run_freeal
from benchmark.settings.base import CaseBase, TrainingData


class FreeALSetting:
    """Every seed runs FreeAL's rounds; the record's `scores` are the small model's test
    scores after the last round (so FreeAL rows aggregate like any other case) and its
    `freeal` block holds every round."""

    name = "freeal"
    calls_llm = True
    llm_writes_data = False
    trains_own_model = True
    baseline = False
    reported_apart = True

    def cases(self, task: TaskFile, base: CaseBase, models: list[str | None]) -> list[CaseSpec]:
        """One case per model x size x classifier x demo source x clean selection x
        consistency x calibration."""
        fa = task.freeal
        shared = fa.model_dump(
            exclude={"demo_sources", "clean_selection", "consistency", "calibration"}
        )
        grid = itertools.product(
            models,
            task.samples_per_label,
            task.classifiers,
            fa.demo_sources,
            fa.clean_selection,
            fa.consistency,
            fa.calibration,
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
                generation=base.generation,
                freeal=FreeALSpec.of(
                    {
                        **shared,
                        "demo_source": source,
                        "clean_selection": selection,
                        "consistency": consistency,
                        "calibration": calibration,
                    }
                ),
                source=base.source,
                marks=base.marks,
            )
            for model, n, clf, source, selection, consistency, calibration in grid
        ]

    def data_problem(
        self, task: TaskFile, counts: dict[str, int], *, where: str
    ) -> tuple[str, str] | None:
        size, total = task.freeal.pool_size, sum(counts.values())
        if size >= total:
            return (
                "freeal.pool_size",
                f"{size} pool texts, but {where} has only {total} (gold demos come from the rest)",
            )
        return None

    def generation_seeds(self, spec: CaseSpec) -> list[int | None]:
        return [None]

    def training_data(
        self, spec: CaseSpec, ctx: RunContext, *, seed: int, generation_seed: int | None
    ) -> TrainingData:
        run = run_freeal(spec, ctx, seed=seed)
        train = ctx.data.split(spec.dataset, spec.language, "train")
        return TrainingData(
            examples=[],
            provenance={"source": train.fingerprint},
            details=run,
            scores=run.final.to_dict(),
            fit_seconds=sum(r.seconds["train"] for r in run.rounds),
        )

    def matched_gold(self, spec: CaseSpec) -> bool:
        return False

    def record_block(
        self, spec: CaseSpec, ctx: RunContext, runs: list[TrainingData]
    ) -> dict[str, Any]:
        per_seed = [run.details.replace(test_predictions=None) for run in runs]  # kept apart
        return {
            "freeal": FreeALBlock(per_seed=per_seed, rounds=round_means(per_seed)),
            "train_label_counts": per_seed[0].pool.label_counts,
            "n_train": per_seed[0].pool.size,
            "predictions": write_predictions(spec, ctx, runs),
        }


def write_predictions(spec: CaseSpec, ctx: RunContext, runs: list[TrainingData]) -> str:
    """Writes the final small model's test predictions of every seed, and those of the same
    model trained on the run's gold demos as the matched control (`matched_gold`, when the
    demos are gold), in the runner's `predictions.json` format; returns its relative path.

    Each seed draws its own pool and LLM labels, so seeds are tagged as generated sets: the
    paired bootstrap resamples them like generation seeds.
    """
    labels = list(ctx.data.labels(spec.dataset))
    stored = empty_predictions(labels, ctx.data.split(spec.dataset, spec.language, "test"))
    for run in runs:
        seed, predicted = run.details.seed, run.details.test_predictions
        tag = {"generation_seed": seed, "seed": seed}
        stored["runs"].append({**tag, "predicted": predicted.final})
        if predicted.same_budget is not None:
            stored["matched_gold"].append({**tag, "predicted": predicted.same_budget})
    if len(stored["matched_gold"]) != len(stored["runs"]):
        stored["matched_gold"] = []
    return save_predictions(ctx.results_dir, spec.case_id, stored)


ROUND_METRICS = (
    "label_accuracy",
    "llm_accuracy_fresh",
    "abstention_share",
    "small_model_pool_accuracy",
    "test_macro_f1",
    "test_accuracy",
    "clean",
    "kept",
    "annotated",
)


def round_means(per_seed: list[FreeALRun]) -> list[FreeALRound]:
    """Per round: the mean over seeds of each metric, and the union of collapsing classes."""
    out = []
    for r in range(min(len(s.rounds) for s in per_seed)):
        rows = [s.rounds[r] for s in per_seed]
        means = {
            m: round(sum(getattr(x, m) for x in rows) / len(rows), 4)
            for m in ROUND_METRICS
            if all(getattr(x, m) is not None for x in rows)  # "kept" is newer than some records
        }
        collapsing = sorted({c for x in rows for c in x.collapsing})
        out.append(FreeALRound(round=r, **means, collapsing=collapsing))
    return out
