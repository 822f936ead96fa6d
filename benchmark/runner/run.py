"""Running one case: the setting's training data -> classifier per seed -> scores -> one
result record."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmark import progress
from benchmark.augment import augmented_demos
from benchmark.case.records import (
    Record,
    case_dir,
    empty_predictions,
    environment_info,
    read_record,
    record_path,
    save_predictions,
    write_json_atomic,
)
from benchmark.case.results import Arms, MatchedGold, Scores
from benchmark.case.spec import CaseSpec
from benchmark.classifiers import build_classifier
from benchmark.context import RunContext
from benchmark.data.loaders import (
    Example,
    Split,
    assert_disjoint_from_test,
    refuse_test_examples,
    sample_with_counts,
)
from benchmark.errors import CaseFailure
from benchmark.runner.arms import ARMS_PREDICTIONS, score_arms
from benchmark.scoring import confusion_counts, save_confusion_figure, score, score_block
from benchmark.settings import Setting, TrainingData, setting_of


def finished_record(spec: CaseSpec, ctx: RunContext) -> dict[str, Any] | None:
    """The existing record of this exact spec, or None (missing, stale or overwrite asked)."""
    if ctx.overwrite:
        return None
    record = read_record(record_path(ctx.results_dir, spec.case_id))
    if record and record.get("spec_hash") == spec.spec_hash and record.get("status") == "ok":
        return record
    return None


def training_data(
    setting: Setting, spec: CaseSpec, ctx: RunContext, *, seed: int, generation_seed: int | None
) -> TrainingData:
    """The setting's training data of one (generation seed, seed) run plus augmented demos."""
    data = setting.training_data(spec, ctx, seed=seed, generation_seed=generation_seed)
    if spec.augmentation:
        aug_seed = seed if generation_seed is None else generation_seed
        extra, info = augmented_demos(spec, ctx, seed=aug_seed)
        data = dataclasses.replace(
            data,
            examples=[*data.examples, *extra],
            provenance={**data.provenance, "augmentation": info},
        )
    return data


class ClassifierRuns:
    """The case's classifier trained on each run's data (and on its matched gold control),
    scored on test; collects what the record keeps of every run."""

    def __init__(
        self, spec: CaseSpec, ctx: RunContext, labels: list[str], test: Split, *, matched: bool
    ):
        self.spec, self.ctx, self.labels, self.test, self.matched = spec, ctx, labels, test, matched
        self.train_split = ctx.data.split(spec.dataset, spec.language, "train")
        self.dev = ctx.data.split(spec.dataset, spec.language, "dev")
        self.classifier = build_classifier(spec.classifier, labels=labels)
        self.gold = [e.label for e in test.examples]
        self.index = {label: i for i, label in enumerate(labels)}
        self.fits: list[dict[str, Any]] = []
        self.matched_runs: list[dict[str, Any]] = []
        self.matched_counts: dict[str, dict[str, int]] = {}  # per generated set
        self.confusion = [[0] * len(labels) for _ in labels]
        self.predictions = empty_predictions(labels, test)

    def fit_and_score(self, train: list[Example], seed: int) -> tuple[dict, list[str], Any]:
        fit = self.classifier.fit(
            [e.text for e in train],
            [e.label for e in train],
            dev_texts=[e.text for e in self.dev.examples],
            dev_labels=[e.label for e in self.dev.examples],
            seed=seed,
        )
        t0 = time.perf_counter()
        predicted = self.classifier.predict([e.text for e in self.test.examples])
        scores = score(self.gold, predicted, labels=self.labels)
        return scores, predicted, (fit, time.perf_counter() - t0)

    def run(self, train: list[Example], *, seed: int, tag: dict[str, int]) -> dict[str, Any]:
        """Train and score on `train`; returns the run's scores (tagged with its seeds)."""
        spec, test = self.spec, self.test
        refuse_test_examples(train, purpose=f"training data of {spec.case_id}")
        assert_disjoint_from_test(train, test)
        if len({e.label for e in train}) < 2:
            where = case_dir(self.ctx.results_dir, spec.case_id)
            raise CaseFailure(
                f"training data has {len(train)} usable examples in "
                f"{len({e.label for e in train})} labels (need at least 2 labels); what was "
                f"generated is kept in {where}"
            )
        scores, predicted, (fit, predict_seconds) = self.fit_and_score(train, seed)
        self.predictions["runs"].append(
            {**tag, "seed": seed, "predicted": [self.index[y] for y in predicted]}
        )
        self.fits.append(
            {
                **tag,
                "seed": seed,
                "fit_seconds": fit.seconds,
                "predict_seconds": predict_seconds,
                **fit.details,
            }
        )
        for i, row in enumerate(confusion_counts(self.gold, predicted, labels=self.labels)):
            self.confusion[i] = [a + b for a, b in zip(self.confusion[i], row, strict=True)]
        if self.matched:
            counts = Counter(e.label for e in train)
            control = sample_with_counts(self.train_split, dict(sorted(counts.items())), seed=seed)
            assert_disjoint_from_test(control, test)
            key = str(tag.get("generation_seed"))
            self.matched_counts[key] = dict(sorted(Counter(e.label for e in control).items()))
            m_scores, m_predicted, _ = self.fit_and_score(control, seed)
            self.matched_runs.append({**tag, "seed": seed, **m_scores})
            self.predictions["matched_gold"].append(
                {**tag, "seed": seed, "predicted": [self.index[y] for y in m_predicted]}
            )
        return {**tag, "seed": seed, **scores}


def run_case(spec: CaseSpec, ctx: RunContext) -> dict[str, Any]:
    """Get the setting's training data for every (generation seed, seed), train and score the
    case's classifier on it (unless the setting trains its own model) and write the record;
    settings with a matched gold control also train the same classifier on gold data with
    exactly their per-label counts.

    Returns:
        The record that was written.
    """
    started = time.perf_counter()
    setting = setting_of(spec.setting)
    labels = ctx.data.labels(spec.dataset)
    test = ctx.data.split(spec.dataset, spec.language, "test")
    trainer = (
        None
        if setting.trains_own_model
        else ClassifierRuns(spec, ctx, labels, test, matched=setting.matched_gold(spec))
    )
    runs: list[dict[str, Any]] = []
    made: list[TrainingData] = []
    for generation_seed in setting.generation_seeds(spec):
        tag = {} if generation_seed is None else {"generation_seed": generation_seed}
        # a generated set (and its augmented demos) is made once: the seeds do not change it
        one_set = (
            None
            if generation_seed is None
            else training_data(
                setting, spec, ctx, seed=spec.seeds[0], generation_seed=generation_seed
            )
        )
        for k, seed in enumerate(spec.seeds, 1):
            data = one_set or training_data(
                setting, spec, ctx, seed=seed, generation_seed=generation_seed
            )
            made.append(data)
            if trainer is None:
                runs.append({**tag, "seed": seed, **(data.scores or {})})
                continue
            where = "" if generation_seed is None else f"generated set {generation_seed}, "
            progress.stage(
                f"{where}seed {k}/{len(spec.seeds)}: training on {len(data.examples)} examples"
                + (" (+ matched gold control)" if trainer.matched else "")
            )
            runs.append(trainer.run(data.examples, seed=seed, tag=tag))
    record = case_record(spec, ctx, setting, labels, test, runs, made, trainer, started)
    write_json_atomic(record_path(ctx.results_dir, spec.case_id), record.to_dict())
    return record.to_dict()


def case_arms(
    spec: CaseSpec,
    ctx: RunContext,
    strategy: Any,
    sets: dict[int, list[Example]],
    trainer: ClassifierRuns,
    record: Record,
) -> Arms | None:
    """The record's `arms` block (and its predictions file) for a generated case."""
    if not sets:
        return None
    progress.stage("arms: demos alone, demos + generated, gold at n per label")
    arms, predictions = score_arms(
        spec,
        strategy,
        ctx.data,
        sets=sets,
        fit_and_score=trainer.fit_and_score,
        labels=trainer.labels,
        test=trainer.test,
        generated_scores=record.scores,
        matched_gold=record.matched_gold,
    )
    return arms.replace(
        predictions=save_arm_predictions(ctx.results_dir, spec.case_id, predictions)
    )


def save_arm_predictions(results_dir: Path, case_id: str, predictions: dict[str, Any]) -> str:
    """Writes `arms_predictions.json` beside the record; returns its relative path."""
    path = case_dir(results_dir, case_id) / ARMS_PREDICTIONS
    write_json_atomic(path, predictions)
    return str(path.relative_to(results_dir))


def matched_gold(scores: Scores, trainer: ClassifierRuns) -> MatchedGold:
    """The matched gold control's block: its scores, label counts and gap to the case's."""
    block = score_block(trainer.matched_runs)
    by_set = trainer.matched_counts
    single = len(by_set) == 1
    return MatchedGold(
        scores=block,
        train_label_counts=next(iter(by_set.values())) if single else None,
        train_label_counts_by_generation_seed=None if single else by_set,
        gap_macro_f1=round(scores.macro_f1_mean - block.macro_f1_mean, 4),
    )


def case_record(
    spec: CaseSpec,
    ctx: RunContext,
    setting: Setting,
    labels: list[str],
    test: Split,
    runs: list[dict[str, Any]],
    made: list[TrainingData],
    trainer: ClassifierRuns | None,
    started: float,
) -> Record:
    """The one place a case's record is built (every setting)."""
    counts = dict(sorted(Counter(e.label for e in made[-1].examples).items()))
    fits = trainer.fits if trainer else []
    if trainer:
        fit_seconds = sum(f["fit_seconds"] for f in fits) / len(fits)
    else:
        fit_seconds = sum(d.fit_seconds for d in made) / len(made)
    data = {"train": made[-1].provenance, "test": test.fingerprint}
    if trainer:
        data["dev"] = trainer.dev.fingerprint
    record = Record(
        case_id=spec.case_id,
        spec_hash=spec.spec_hash,
        spec=spec.to_dict(),
        labels=list(labels),
        train_label_counts=counts,
        n_train=sum(counts.values()),
        n_test=len(test.examples),
        scores=score_block(runs),
        fits=fits,
        data=data,
        timings={},
        environment=environment_info(),
        finished_at="",
    )
    if trainer:
        record.classifier_fingerprint = getattr(trainer.classifier, "fingerprint", None)
        record.confusion_matrix = trainer.confusion
        if trainer.matched_runs:
            record.matched_gold = matched_gold(record.scores, trainer)
        folder = case_dir(ctx.results_dir, spec.case_id)
        record.predictions = save_predictions(ctx.results_dir, spec.case_id, trainer.predictions)
        strategy = getattr(setting, "strategy", None)
        if trainer.matched and strategy is not None:
            sets = {d.generation_seed: d.examples for d in made if d.generation_seed is not None}
            record.arms = case_arms(spec, ctx, strategy, sets, trainer, record)
        if ctx.figures:
            figure = save_confusion_figure(
                trainer.confusion,
                labels=labels,
                title=f"{spec.case_id} (summed over {len(runs)} runs)",
                path=folder / "confusion.png",
            )
            record.figures = {"confusion": str(figure.relative_to(ctx.results_dir))}
    record = dataclasses.replace(record, **setting.record_block(spec, ctx, made))
    record.timings = {
        "total_seconds": round(time.perf_counter() - started, 3),
        "fit_seconds_mean": round(fit_seconds, 3),
    }
    record.finished_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return record
