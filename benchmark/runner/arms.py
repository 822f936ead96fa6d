"""The arms of a generated case: the same classifier and seeds trained on the gold demos the
generator saw, on the generated set, on both together, on gold at up to n per label and on gold
with the generated set's counts (matched gold).

The study's practical question for a low-resource practitioner is whether generated data
added to the few gold examples one has beats those examples alone; its headline comparison is
generated data against gold of (up to) the same size. Every arm is scored on the same test split
with the same classifier seeds, so arms pair with each other on the generation seed (and on the
test items) in `benchmark.report.significance`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmark.case.results import Arm, Arms, MatchedGold, Scores
from benchmark.case.spec import CaseSpec
from benchmark.data.loaders import Example, Split, sample_per_label
from benchmark.data.source import DataSource
from benchmark.scoring import score_block
from benchmark.strategies import GenerationStrategy

ARMS = ("demos", "generated", "demos_plus_generated", "gold", "matched_gold")
ARMS_PREDICTIONS = "arms_predictions.json"
# fit_and_score(train, seed) -> (scores, predicted labels, fit details)
FitAndScore = Callable[[list[Example], int], tuple[dict[str, float], list[str], Any]]


@dataclass(frozen=True)
class DemoArm:
    """The gold demos of one generated set and what they were to the generator."""

    examples: list[Example]
    shown: bool  # the prompts showed these texts (False: the same draw, not shown)
    note: str


def demo_arm(
    spec: CaseSpec, strategy: GenerationStrategy, data: DataSource, *, generation_seed: int
) -> DemoArm:
    """The target-language gold demos of a generated set, drawn as `build_demos` draws them.

    Target-demo strategies: exactly the demos the prompts showed. English and translated demos:
    the target-language gold examples with the same ids (both datasets are parallel, so they
    are translations of the English demos). Strategies without demos: the draw target demos
    would show (the generator never saw them).
    """
    k = spec.generation.demos_per_label if spec.generation else 10
    train = data.split(spec.dataset, spec.language, "train")
    if strategy.demos == "target" and k:
        drawn = sample_per_label(train, k, seed=generation_seed)
        return DemoArm(drawn, True, "the target-language gold demos the prompts showed")
    if strategy.demos in ("english", "translated") and k:
        english = data.split(spec.dataset, "en", "train")
        by_uid = {e.uid: e for e in train.examples}
        ids = [e.uid for e in sample_per_label(english, k, seed=generation_seed)]
        drawn = [by_uid[uid] for uid in ids if uid in by_uid]
        return DemoArm(
            drawn,
            False,
            "the target-language gold examples with the ids of the English demos shown "
            "(parallel data: their translations)",
        )
    drawn = sample_per_label(train, k or 10, seed=generation_seed)
    return DemoArm(drawn, False, "not shown: the draw target-language demos would show")


def _counts(examples: list[Example]) -> dict[str, int]:
    return dict(sorted(Counter(e.label for e in examples).items()))


class ArmScorer:
    """Trains the case's classifier on each arm's data and keeps scores and predictions."""

    def __init__(self, fit_and_score: FitAndScore, labels: list[str], test: Split):
        self.fit_and_score = fit_and_score
        self.index = {label: i for i, label in enumerate(labels)}
        self.runs: dict[str, list[dict[str, Any]]] = {}
        self.predicted: dict[str, list[dict[str, Any]]] = {}
        self.counts: dict[str, dict[str, dict[str, int]]] = {}

    def run(self, arm: str, train: list[Example], *, seed: int, tag: dict[str, int]) -> None:
        scores, predicted, _ = self.fit_and_score(train, seed)
        self.runs.setdefault(arm, []).append({**tag, "seed": seed, **scores})
        self.predicted.setdefault(arm, []).append(
            {**tag, "seed": seed, "predicted": [self.index[y] for y in predicted]}
        )
        key = str(tag.get("generation_seed", tag.get("draw")))
        self.counts.setdefault(arm, {})[key] = _counts(train)

    def block(self, arm: str, **details: Any) -> Arm:
        scores = score_block(self.runs[arm])
        return Arm.of_scores(
            scores, extra=scores.extra, train_label_counts=self.counts[arm], **details
        )


def score_arms(
    spec: CaseSpec,
    strategy: GenerationStrategy,
    data: DataSource,
    *,
    sets: dict[int, list[Example]],
    fit_and_score: FitAndScore,
    labels: list[str],
    test: Split,
    generated_scores: Scores,
    matched_gold: MatchedGold | None,
) -> tuple[Arms, dict[str, Any]]:
    """The `arms` block of a generated case and its arms' test predictions.

    Args:
        sets: generation seed -> the training data of that generated set (what the
            `generated` arm trained on).
        fit_and_score: trains the case's classifier on examples with a seed; returns scores,
            predicted labels and fit details.
        generated_scores, matched_gold: the record's `scores` and `matched_gold` blocks (the
            `generated` and `matched_gold` arms, already trained by the runner).

    Returns:
        (the record's `arms` block without its `predictions` path, the predictions by arm).
    """
    scorer = ArmScorer(fit_and_score, labels, test)
    notes, demo_ids = set(), {}
    for generation_seed, generated in sorted(sets.items()):
        demos = demo_arm(spec, strategy, data, generation_seed=generation_seed)
        notes.add((demos.shown, demos.note))
        demo_ids[str(generation_seed)] = [e.uid for e in demos.examples]
        tag = {"generation_seed": generation_seed}
        for seed in spec.seeds:
            scorer.run("demos", demos.examples, seed=seed, tag=tag)
            scorer.run("demos_plus_generated", [*demos.examples, *generated], seed=seed, tag=tag)
    train = data.split(spec.dataset, spec.language, "train")
    for seed in spec.seeds:  # the gold baseline's draws: up to n per label, one per seed
        drawn = sample_per_label(train, spec.samples_per_label, seed=seed)
        scorer.run("gold", drawn, seed=seed, tag={"draw": seed})
    (shown, note), *_ = sorted(notes)
    arms = Arms(
        demos=scorer.block(
            "demos", shown_to_generator=shown, source=note, uids_by_generation_seed=demo_ids
        ),
        generated=Arm.of_scores(generated_scores, predictions_key="runs"),
        demos_plus_generated=scorer.block("demos_plus_generated"),
        gold=scorer.block("gold", samples_per_label=spec.samples_per_label),
        matched_gold=Arm.of_scores(matched_gold.scores, predictions_key="matched_gold")
        if matched_gold
        else None,
    )
    predictions = {arm: scorer.predicted[arm] for arm in ("demos", "demos_plus_generated", "gold")}
    return arms, predictions
