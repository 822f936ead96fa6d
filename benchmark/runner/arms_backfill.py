"""Give finished generated records their `arms` block by rescoring their stored generated sets.

No LLM is asked for generated text: each set is read back from `generated[-seed<g>].jsonl`
(the `kept` rows, in order), augmented demos are rebuilt as the run built them, and the case's
classifier is trained again with the record's seeds. Before anything is written, the rebuilt
`generated` arm must reproduce the record's stored test predictions for every set (first
classifier seed), so the arms are scored on exactly the data the record was. Only the record's
`arms` key is added (the rest of the JSON is rewritten unchanged); the arms' predictions go to
`<case id>/arms_predictions.json`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmark import progress
from benchmark.augment import AUGMENTERS, augmented_demos
from benchmark.case.generated_sets import generated_files
from benchmark.case.records import (
    Record,
    case_dir,
    load_record,
    record_path,
    write_json_atomic,
)
from benchmark.case.spec import CaseSpec
from benchmark.context import RunContext
from benchmark.data.loaders import Example
from benchmark.errors import BenchError
from benchmark.report.summary import is_superseded
from benchmark.runner.quality_backfill import kept_samples
from benchmark.runner.run import ClassifierRuns, case_arms
from benchmark.settings import setting_of


class BackfillError(BenchError):
    """A record whose stored sets cannot be rescored as they were scored."""


def needs_arms(record: Record) -> bool:
    """A current generated record with a matched gold control and stored predictions."""
    setting = setting_of(record.setting) if record.setting else None
    return bool(
        getattr(setting, "strategy", None) is not None
        and record.matched_gold
        and record.predictions
        and not is_superseded(record)
    )


def stored_sets(
    spec: CaseSpec, ctx: RunContext, record: Record, *, allow_llm: bool = False
) -> dict[int, list[Example]]:
    """Generation seed -> the training data of that set, as the run trained on it."""
    if spec.augmentation and AUGMENTERS.get(spec.augmentation.method).uses_llm and not allow_llm:
        raise BackfillError(
            f"{record.case_id}: its augmented demos are LLM-written ({spec.augmentation.method}): "
            "rebuilding them asks the LLM again (slow unless the response cache has them); pass "
            "--llm to allow it"
        )
    seeds = list(spec.generation_seeds)
    files = generated_files(case_dir(ctx.results_dir, record.case_id), len(seeds))
    if len(files) != len(seeds):
        raise BackfillError(
            f"{record.case_id}: {len(files)} generated-set file(s) for {len(seeds)} generation "
            "seed(s)"
        )
    sets = {}
    for seed, path in zip(seeds, files, strict=True):
        examples = kept_samples(path)
        if spec.augmentation:
            extra, _ = augmented_demos(spec, ctx, seed=seed)
            examples = [*examples, *extra]
        sets[seed] = examples
    return sets


MAX_DIFFERING_SHARE = 0.01  # of test items: float noise of re-embedding on another machine


def check_reproduces(
    record: Record, trainer: ClassifierRuns, sets: dict[int, list[Example]], stored: dict
) -> int:
    """Refuse when retraining a set does not give the record's stored predictions; a few
    borderline items (at most 1% of the test split) may flip, as re-embedding on another machine
    or thread count changes the vectors in their last bits.

    Returns:
        The most test predictions that differed in one set.
    """
    first_seed = record.spec["seeds"][0]
    worst = 0
    for generation_seed, examples in sets.items():
        wanted = next(
            (
                run["predicted"]
                for run in stored["runs"]
                if run.get("generation_seed") == generation_seed and run["seed"] == first_seed
            ),
            None,
        )
        _, predicted, _ = trainer.fit_and_score(examples, first_seed)
        got = [trainer.index[y] for y in predicted]
        differing = (
            len(got) if wanted is None else sum(a != b for a, b in zip(got, wanted, strict=True))
        )
        if wanted is None or differing > MAX_DIFFERING_SHARE * len(got):
            raise BackfillError(
                f"{record.case_id}: generated set {generation_seed} retrained does not reproduce "
                f"the stored test predictions ({differing} of {len(got)} differ); arms not added"
            )
        worst = max(worst, differing)
    return worst


def trainer_for(
    spec: CaseSpec, ctx: RunContext, cache: dict[str, ClassifierRuns]
) -> ClassifierRuns:
    """The case's classifier on its test split, built once per (dataset, language, classifier)
    for a whole backfill (loading the encoder is most of a small record's time)."""
    key = json.dumps([spec.dataset, spec.language, spec.classifier.model_dump()], sort_keys=True)
    if key not in cache:
        labels = ctx.data.labels(spec.dataset)
        test = ctx.data.split(spec.dataset, spec.language, "test")
        cache[key] = ClassifierRuns(spec, ctx, labels, test, matched=False)
    return cache[key]


def backfill_record(
    path: Path,
    ctx: RunContext,
    *,
    allow_llm: bool = False,
    trainers: dict[str, ClassifierRuns] | None = None,
) -> bool:
    """Add `arms` to one record; False when it is not a generated record that can have them."""
    record = Record.from_dict(load_record(path))
    if not needs_arms(record):
        return False
    spec = CaseSpec.from_dict(record.spec)
    if spec.case_id != record.case_id or spec.spec_hash != record.spec_hash:
        raise BackfillError(f"{path}: its spec does not reproduce its case id / hash")
    progress.stage(f"{record.case_id}: rescoring its stored generated sets")
    trainer = trainer_for(spec, ctx, {} if trainers is None else trainers)
    sets = stored_sets(spec, ctx, record, allow_llm=allow_llm)
    stored = json.loads((ctx.results_dir / record.predictions).read_text(encoding="utf-8"))
    differing = check_reproduces(record, trainer, sets, stored)
    strategy = setting_of(record.setting).strategy
    arms = case_arms(spec, ctx, strategy, sets, trainer, record).replace(
        backfilled={
            "from": "stored generated sets",
            "max_test_predictions_differing_per_set": differing,
            "test_items": len(stored["gold"]),
        }
    )
    record.arms = arms  # the rest of the record is written back as read
    write_json_atomic(record_path(ctx.results_dir, record.case_id), record.to_dict())
    return True


def backfill_arms(
    results_dir: Path,
    *,
    data_dir: Any = None,
    overwrite: bool = False,
    allow_llm: bool = False,
    select: Callable[[str], bool] = lambda case_id: True,
) -> tuple[list[str], list[str]]:
    """Add `arms` to every current generated record that lacks them (all with `overwrite`).

    Returns:
        (case ids updated, "<case id>: <why not>" for the records that could not be).
    """
    ctx = RunContext(results_dir=Path(results_dir), data_dir=data_dir, figures=False)
    updated, failed = [], []
    trainers: dict[str, ClassifierRuns] = {}
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            payload = load_record(path)
        except BenchError:
            continue  # the leaderboard reports bad records
        if not select(payload["case_id"]) or ("arms" in payload and not overwrite):
            continue
        try:
            if backfill_record(path, ctx, allow_llm=allow_llm, trainers=trainers):
                updated.append(payload["case_id"])
        except (BenchError, OSError, ValueError) as err:
            failed.append(f"{payload['case_id']}: {err}")
    return updated, failed
