"""Running one case: training data -> classifier per seed -> scores -> one result record."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmark import progress
from benchmark.classifiers import build_classifier
from benchmark.data import (
    Example,
    assert_disjoint_from_test,
    refuse_test_examples,
    sample_per_label,
    sample_with_counts,
)
from benchmark.encoders.embedder import Embedder, load_embedder
from benchmark.errors import CaseFailure
from benchmark.generation.backends import BackendFactory
from benchmark.records import (
    RECORD_VERSION,
    case_dir,
    environment_info,
    read_record,
    record_path,
    write_json_atomic,
)
from benchmark.scoring import aggregate, confusion_counts, save_confusion_figure, score
from benchmark.services import DataSource
from benchmark.spec import CaseSpec
from benchmark.strategies import FREEAL, GOLD


@dataclass(frozen=True)
class RunContext:
    """Where a run reads data and writes results, and the services its cases use.

    `data` (default: a `DataSource` of `data_dir`) loads each split once, `backends` makes the
    LLM backends (every call through the response cache), `embedder` loads an embedder by name.
    """

    results_dir: Path
    data_dir: Path | str | None = None
    overwrite: bool = False
    figures: bool = True
    data: DataSource = None  # type: ignore[assignment]  # set from data_dir when not given
    backends: BackendFactory = field(default_factory=BackendFactory)
    embedder: Callable[[str], Embedder] = load_embedder

    def __post_init__(self) -> None:
        if self.data is None:
            object.__setattr__(self, "data", DataSource(self.data_dir))


def finished_record(spec: CaseSpec, ctx: RunContext) -> dict[str, Any] | None:
    """The existing record of this exact spec, or None (missing, stale or overwrite asked)."""
    if ctx.overwrite:
        return None
    record = read_record(record_path(ctx.results_dir, spec.case_id))
    if record and record.get("spec_hash") == spec.spec_hash and record.get("status") == "ok":
        return record
    return None


def generation_seeds(spec: CaseSpec) -> list[int | None]:
    """The generation seeds of a case: one generated set each; `[None]` for gold settings."""
    if spec.setting == GOLD or not spec.generation:
        return [None]
    gen = spec.generation
    if gen.get("seeds"):
        return list(gen["seeds"])
    return [spec.seeds[0] if gen.get("seed") is None else gen["seed"]]  # records before `seeds`


def training_sets(
    spec: CaseSpec, ctx: RunContext, seed: int, generation_seed: int | None = None
) -> tuple[list[Example], dict[str, Any]]:
    """The training examples of one (generation seed, seed) run plus augmented demos, and
    their provenance."""
    examples, provenance = base_training_set(spec, ctx, seed, generation_seed)
    if spec.augmentation:
        from benchmark.augment import augmented_demos

        aug_seed = seed if generation_seed is None else generation_seed
        extra, info = augmented_demos(spec, ctx, seed=aug_seed)
        examples = [*examples, *extra]
        provenance = {**provenance, "augmentation": info}
    return examples, provenance


def base_training_set(
    spec: CaseSpec, ctx: RunContext, seed: int, generation_seed: int | None = None
) -> tuple[list[Example], dict[str, Any]]:
    """Gold sample of one seed or the generated set of one generation seed, and what to record
    about how it was made."""
    if spec.setting == GOLD:
        train = ctx.data.split(spec.dataset, spec.language, "train")
        chosen = sample_per_label(
            train, spec.samples_per_label, seed=seed, exact=spec.gold_sampling == "exact"
        )
        return chosen, {"source": train.fingerprint}
    from benchmark.generation.pipeline import generated_set

    if generation_seed is None:
        generation_seed = generation_seeds(spec)[0]
    return generated_set(spec, ctx, generation_seed=generation_seed)


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
    from benchmark.generation.gates import vocabulary_or_none
    from benchmark.quality import generated_set_quality

    train = ctx.data.split(spec.dataset, spec.language, "train")
    gold = sample_per_label(train, spec.samples_per_label, seed=spec.seeds[0])
    candidates: dict[str, int] = {}
    for counts in generation["per_label"].values():
        for status, count in counts.items():
            if status not in ("prompts", "tokens"):
                candidates[status] = candidates.get(status, 0) + count
    encoder = (
        spec.classifier["encoder"] if spec.classifier["name"] == "embed-logreg" else "e5-small"
    )
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
        "runs": summaries,
    }


def score_block(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-run scores, their mean and std, and (with several generation seeds) the mean per
    generated set and the std over sets (the generation variance)."""
    metrics = [{k: v for k, v in r.items() if k not in ("seed", "generation_seed")} for r in runs]
    block: dict[str, Any] = {
        "per_seed": [
            {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()} for r in runs
        ],
        **{k: round(v, 4) for k, v in aggregate(metrics).items()},
    }
    sets = sorted({r["generation_seed"] for r in runs if r.get("generation_seed") is not None})
    if sets:
        by_set = []
        for g in sets:
            mine = [m for m, r in zip(metrics, runs, strict=True) if r["generation_seed"] == g]
            means = aggregate(mine)
            by_set.append({"generation_seed": g, "macro_f1_mean": round(means["macro_f1_mean"], 4)})
        values = [b["macro_f1_mean"] for b in by_set]
        block["by_generation_seed"] = by_set
        block["macro_f1_std_over_generation_seeds"] = round(
            statistics.stdev(values) if len(values) > 1 else 0.0, 4
        )
    return block


def needs_matched_gold(spec: CaseSpec) -> bool:
    """Every case whose training data is not a plain gold sample gets a matched gold control."""
    return spec.setting != GOLD or spec.augmentation is not None


def run_case(spec: CaseSpec, ctx: RunContext) -> dict[str, Any]:
    """Train and score the case's classifier for every (generation seed, seed) and write its
    record; generated and augmented cases also train the same classifier on gold data with
    exactly their per-label counts (the matched gold control).

    Returns:
        The record that was written.
    """
    if spec.setting == FREEAL:
        from benchmark.freeal.case import run_freeal_case

        return run_freeal_case(spec, ctx)
    started = time.perf_counter()
    labels = ctx.data.labels(spec.dataset)
    train_split = ctx.data.split(spec.dataset, spec.language, "train")
    dev = ctx.data.split(spec.dataset, spec.language, "dev")
    test = ctx.data.split(spec.dataset, spec.language, "test")
    classifier = build_classifier(spec.classifier, labels=labels)
    dev_texts, dev_labels = [e.text for e in dev.examples], [e.label for e in dev.examples]
    test_texts, gold = [e.text for e in test.examples], [e.label for e in test.examples]
    index = {label: i for i, label in enumerate(labels)}
    runs, matched_runs, fits, provenance = [], [], [], {}
    predictions: dict[str, Any] = {
        "labels": list(labels),
        "test": test.fingerprint,
        "gold": [index[y] for y in gold],
        "runs": [],
        "matched_gold": [],
    }
    confusion = [[0] * len(labels) for _ in labels]
    counts: dict[str, int] = {}
    counts_by_set: dict[str, dict[str, int]] = {}
    summaries, qualities, matched_counts = [], [], {}

    def fit_and_score(train: list[Example], seed: int) -> tuple[dict, list[str], Any]:
        fit = classifier.fit(
            [e.text for e in train],
            [e.label for e in train],
            dev_texts=dev_texts,
            dev_labels=dev_labels,
            seed=seed,
        )
        t0 = time.perf_counter()
        predicted = classifier.predict(test_texts)
        return score(gold, predicted, labels=labels), predicted, (fit, time.perf_counter() - t0)

    for generation_seed in generation_seeds(spec):
        tag = {} if generation_seed is None else {"generation_seed": generation_seed}
        # a generated set (and its augmented demos) is made once: the seeds do not change it
        one_set = (
            None
            if generation_seed is None
            else training_sets(spec, ctx, spec.seeds[0], generation_seed)
        )
        for k, seed in enumerate(spec.seeds, 1):
            train, provenance = one_set or training_sets(spec, ctx, seed, generation_seed)
            where = "" if generation_seed is None else f"generated set {generation_seed}, "
            progress.stage(
                f"{where}seed {k}/{len(spec.seeds)}: training on {len(train)} examples"
                + (" (+ matched gold control)" if needs_matched_gold(spec) else "")
            )
            refuse_test_examples(train, purpose=f"training data of {spec.case_id}")
            assert_disjoint_from_test(train, test)
            if len({e.label for e in train}) < 2:
                where = case_dir(ctx.results_dir, spec.case_id)
                raise CaseFailure(
                    f"training data has {len(train)} usable examples in "
                    f"{len({e.label for e in train})} labels (need at least 2 labels); what was "
                    f"generated is kept in {where}"
                )
            counts = dict(sorted(Counter(e.label for e in train).items()))
            scores, predicted, (fit, predict_seconds) = fit_and_score(train, seed)
            runs.append({**tag, "seed": seed, **scores})
            predictions["runs"].append(
                {**tag, "seed": seed, "predicted": [index[y] for y in predicted]}
            )
            fits.append(
                {
                    **tag,
                    "seed": seed,
                    "fit_seconds": fit.seconds,
                    "predict_seconds": predict_seconds,
                    **fit.details,
                }
            )
            for i, row in enumerate(confusion_counts(gold, predicted, labels=labels)):
                confusion[i] = [a + b for a, b in zip(confusion[i], row, strict=True)]
            if needs_matched_gold(spec):
                control = sample_with_counts(train_split, counts, seed=seed)
                assert_disjoint_from_test(control, test)
                matched_counts = dict(sorted(Counter(e.label for e in control).items()))
                m_scores, m_predicted, _ = fit_and_score(control, seed)
                matched_runs.append({**tag, "seed": seed, **m_scores})
                predictions["matched_gold"].append(
                    {**tag, "seed": seed, "predicted": [index[y] for y in m_predicted]}
                )
        if generation_seed is not None:
            counts_by_set[str(generation_seed)] = counts
            summary = provenance["generation"]
            summaries.append(summary)
            generated = [e for e in train if e.split == "generated"]
            qualities.append(generation_quality(spec, ctx, generated, summary))
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
        "scores": score_block(runs),
        "fits": fits,
        "confusion_matrix": confusion,
        "data": {
            "train": {k: v for k, v in provenance.items() if k != "generation"},
            "dev": dev.fingerprint,
            "test": test.fingerprint,
        },
        "generation": merge_generation(summaries) if summaries else None,
        "classifier_fingerprint": getattr(classifier, "fingerprint", None),
        "timings": {
            "total_seconds": round(time.perf_counter() - started, 3),
            "fit_seconds_mean": round(sum(f["fit_seconds"] for f in fits) / len(fits), 3),
        },
        "environment": environment_info(),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if counts_by_set:
        record["train_label_counts_by_generation_seed"] = counts_by_set
        record["n_train"] = round(
            statistics.fmean(sum(c.values()) for c in counts_by_set.values()), 1
        )
    if matched_runs:
        block = score_block(matched_runs)
        record["matched_gold"] = {
            "scores": block,
            "train_label_counts": matched_counts,
            "gap_macro_f1": round(record["scores"]["macro_f1_mean"] - block["macro_f1_mean"], 4),
        }
    folder = case_dir(ctx.results_dir, spec.case_id)
    write_json_atomic(folder / "predictions.json", predictions)
    record["predictions"] = str((folder / "predictions.json").relative_to(ctx.results_dir))
    if ctx.figures:
        figure = save_confusion_figure(
            confusion,
            labels=labels,
            title=f"{spec.case_id} (summed over {len(runs)} runs)",
            path=folder / "confusion.png",
        )
        record["figures"] = {"confusion": str(figure.relative_to(ctx.results_dir))}
    if record["generation"]:
        record["generation"]["cold"] = cold_generation_stats(spec, ctx, record["generation"])
        record["quality"] = mean_quality(qualities)
    write_json_atomic(record_path(ctx.results_dir, spec.case_id), record)
    return record
