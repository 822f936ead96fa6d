"""Running one case: training data -> classifier per seed -> scores -> one result record."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmark import progress
from benchmark.classifiers import build_classifier
from benchmark.data import (
    Example,
    assert_disjoint_from_test,
    dataset_labels,
    load_split,
    refuse_test_examples,
    sample_per_label,
)
from benchmark.records import (
    RECORD_VERSION,
    case_dir,
    environment_info,
    read_record,
    record_path,
    write_json_atomic,
)
from benchmark.scoring import aggregate, confusion_counts, save_confusion_figure, score
from benchmark.spec import CaseSpec
from benchmark.strategies import FREEAL, GOLD


class CaseFailure(RuntimeError):
    """A case could not produce a score (e.g. the LLM produced no usable data)."""


@dataclass(frozen=True)
class RunContext:
    """Where a run reads data and writes results."""

    results_dir: Path
    data_dir: Path | str | None = None
    overwrite: bool = False
    figures: bool = True


def finished_record(spec: CaseSpec, ctx: RunContext) -> dict[str, Any] | None:
    """The existing record of this exact spec, or None (missing, stale or overwrite asked)."""
    if ctx.overwrite:
        return None
    record = read_record(record_path(ctx.results_dir, spec.case_id))
    if record and record.get("spec_hash") == spec.spec_hash and record.get("status") == "ok":
        return record
    return None


def training_sets(
    spec: CaseSpec, ctx: RunContext, seed: int
) -> tuple[list[Example], dict[str, Any]]:
    """The training examples of one seed (plus augmented demos), and their provenance."""
    examples, provenance = base_training_set(spec, ctx, seed)
    if spec.augmentation:
        from benchmark.augment import augmented_demos

        gen_seed = (spec.generation or {}).get("seed")
        aug_seed = seed if spec.model is None else (spec.seeds[0] if gen_seed is None else gen_seed)
        extra, info = augmented_demos(spec, ctx, seed=aug_seed)
        examples = [*examples, *extra]
        provenance = {**provenance, "augmentation": info}
    return examples, provenance


def base_training_set(
    spec: CaseSpec, ctx: RunContext, seed: int
) -> tuple[list[Example], dict[str, Any]]:
    """Gold sample or generated set of one seed, and what to record about how it was made."""
    if spec.setting == GOLD:
        train = load_split(spec.dataset, spec.language, "train", data_dir=ctx.data_dir)
        chosen = sample_per_label(
            train, spec.samples_per_label, seed=seed, exact=spec.gold_sampling == "exact"
        )
        return chosen, {"source": train.fingerprint}
    from benchmark.generation.pipeline import generated_training_set

    return generated_training_set(spec, ctx, seed=seed)


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
    """Quality metrics of the generated set, against a gold sample of the same size."""
    from benchmark.quality import generated_set_quality

    train = load_split(spec.dataset, spec.language, "train", data_dir=ctx.data_dir)
    gold = sample_per_label(train, spec.samples_per_label, seed=spec.seeds[0])
    candidates: dict[str, int] = {}
    for counts in generation["per_label"].values():
        for status, count in counts.items():
            if status != "prompts":
                candidates[status] = candidates.get(status, 0) + count
    encoder = (
        spec.classifier["encoder"] if spec.classifier["name"] == "embed-logreg" else "e5-small"
    )
    return generated_set_quality(
        [(e.text, e.label) for e in generated],
        language=spec.language,
        gold=[(e.text, e.label) for e in gold],
        encoder=encoder,
        candidates=candidates,
    )


def run_case(spec: CaseSpec, ctx: RunContext) -> dict[str, Any]:
    """Train and score the case's classifier for every seed and write its record.

    Returns:
        The record that was written.
    """
    if spec.setting == FREEAL:
        from benchmark.freeal.case import run_freeal_case

        return run_freeal_case(spec, ctx)
    started = time.perf_counter()
    labels = dataset_labels(spec.dataset, data_dir=ctx.data_dir)
    dev = load_split(spec.dataset, spec.language, "dev", data_dir=ctx.data_dir)
    test = load_split(spec.dataset, spec.language, "test", data_dir=ctx.data_dir)
    classifier = build_classifier(spec.classifier, labels=labels)
    dev_texts, dev_labels = [e.text for e in dev.examples], [e.label for e in dev.examples]
    per_seed, fits, provenance = [], [], {}
    confusion = [[0] * len(labels) for _ in labels]
    counts: dict[str, int] = {}
    for k, seed in enumerate(spec.seeds, 1):
        train, provenance = training_sets(spec, ctx, seed)
        progress.stage(f"seed {k}/{len(spec.seeds)}: training on {len(train)} examples")
        refuse_test_examples(train, purpose=f"training data of {spec.case_id}")
        assert_disjoint_from_test(train, test)
        if len({e.label for e in train}) < 2:
            where = case_dir(ctx.results_dir, spec.case_id)
            raise CaseFailure(
                f"training data has {len(train)} usable examples in {len({e.label for e in train})} "
                f"labels (need at least 2 labels); what was generated is kept in {where}"
            )
        counts = dict(sorted(Counter(e.label for e in train).items()))
        fit = classifier.fit(
            [e.text for e in train],
            [e.label for e in train],
            dev_texts=dev_texts,
            dev_labels=dev_labels,
            seed=seed,
        )
        t0 = time.perf_counter()
        gold = [e.label for e in test.examples]
        predicted = classifier.predict([e.text for e in test.examples])
        scores = score(gold, predicted, labels=labels)
        per_seed.append({"seed": seed, **scores})
        fits.append(
            {
                "seed": seed,
                "fit_seconds": fit.seconds,
                "predict_seconds": time.perf_counter() - t0,
                **fit.details,
            }
        )
        for i, row in enumerate(confusion_counts(gold, predicted, labels=labels)):
            confusion[i] = [a + b for a, b in zip(confusion[i], row, strict=True)]
    record = {
        "record_version": RECORD_VERSION,
        "case_id": spec.case_id,
        "spec_hash": spec.spec_hash,
        "status": "ok",
        "spec": spec.to_dict(),
        "labels": list(labels),
        "train_label_counts": counts,
        "n_train": sum(counts.values()),
        "n_test": len(test.examples),
        "scores": {
            "per_seed": [
                {k: round(v, 4) if isinstance(v, float) else v for k, v in s.items()}
                for s in per_seed
            ],
            **{
                k: round(v, 4)
                for k, v in aggregate(
                    [{k: v for k, v in s.items() if k != "seed"} for s in per_seed]
                ).items()
            },
        },
        "fits": fits,
        "confusion_matrix": confusion,
        "data": {
            "train": {k: v for k, v in provenance.items() if k != "generation"},
            "dev": dev.fingerprint,
            "test": test.fingerprint,
        },
        "generation": provenance.get("generation"),
        "classifier_fingerprint": getattr(classifier, "fingerprint", None),
        "timings": {
            "total_seconds": round(time.perf_counter() - started, 3),
            "fit_seconds_mean": round(sum(f["fit_seconds"] for f in fits) / len(fits), 3),
        },
        "environment": environment_info(),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if ctx.figures:
        figure = save_confusion_figure(
            confusion,
            labels=labels,
            title=f"{spec.case_id} (summed over {len(spec.seeds)} seeds)",
            path=case_dir(ctx.results_dir, spec.case_id) / "confusion.png",
        )
        record["figures"] = {"confusion": str(figure.relative_to(ctx.results_dir))}
    if record["generation"]:
        record["generation"]["cold"] = cold_generation_stats(spec, ctx, record["generation"])
        record["quality"] = generation_quality(
            spec, ctx, [e for e in train if e.split == "generated"], record["generation"]
        )
    write_json_atomic(record_path(ctx.results_dir, spec.case_id), record)
    return record
