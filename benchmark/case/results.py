"""The typed result blocks a `Record` holds: scores, the generation summary (per generated set
and for the case), the matched gold control, the arms and the FreeAL runs with their rounds.

Each is a `Block` (`benchmark.case.block`): written by `to_dict`, read by `from_dict`; keys it
does not know survive a round trip in `extra`, in the order they were read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmark.case.block import Block, nested, optional


@dataclass(frozen=True)
class Scores(Block):
    """A score block (`scoring.score_block`): each run's scores, their mean and std, and with
    several generated sets the mean per set and the std over sets. Other metrics' means (e.g.
    the gold arm's `draw_mean`) are in `extra`."""

    per_seed: list[dict[str, Any]] | None = None
    macro_f1_mean: float | None = None
    macro_f1_std: float | None = None
    accuracy_mean: float | None = None
    accuracy_std: float | None = None
    by_generation_seed: list[dict[str, Any]] | None = optional()
    macro_f1_std_over_generation_seeds: float | None = optional()


SCORE_FIELDS = Scores.names()


@dataclass(frozen=True)
class MatchedGold(Block):
    """The matched gold control: the classifier on gold data with the run's label counts."""

    scores: Scores | None = nested(Scores)
    train_label_counts: dict[str, int] | None = optional()
    train_label_counts_by_generation_seed: dict[str, dict[str, int]] | None = optional()
    gap_macro_f1: float | None = None


@dataclass(frozen=True)
class Arm(Scores):
    """One arm of a generated case: its scores and what it trained on."""

    train_label_counts: dict[str, dict[str, int]] | None = optional()
    shown_to_generator: bool | None = optional()  # demos: the prompts showed these texts
    source: str | None = optional()  # demos: what the texts were to the generator
    uids_by_generation_seed: dict[str, list[str]] | None = optional()
    samples_per_label: int | None = optional()  # gold: the draw's size
    predictions_key: str | None = optional()  # trained by the runner: its predictions.json key

    @classmethod
    def of_scores(cls, scores: Scores, **details: Any) -> Arm:
        """The arm of a score block (its score fields) with the arm's `details`."""
        return cls(**{name: getattr(scores, name) for name in SCORE_FIELDS}, **details)


@dataclass(frozen=True)
class Arms(Block):
    """The arms of a generated case (`runner/arms.py`)."""

    demos: Arm | None = nested(Arm)
    generated: Arm | None = nested(Arm)
    demos_plus_generated: Arm | None = nested(Arm)
    gold: Arm | None = nested(Arm)
    matched_gold: Arm | None = nested(Arm, optional=True)
    predictions: str | None = optional()  # the arms' predictions file, relative to the results
    backfilled: dict[str, Any] | None = optional()  # added by `lowres-bench arms`

    def arm(self, name: str) -> Arm | None:
        """The arm called `name` (`runner.arms.ARMS`), None when absent."""
        value = getattr(self, name, None) if name in self.names() else None
        return value if isinstance(value, Arm) else None


@dataclass(frozen=True)
class Throughput(Block):
    """How fast a generation ran: its stats and rates (a case's `cold` figures)."""

    samples_per_second: float | None = None
    stats: dict[str, Any] | None = None
    tokens_per_second: float | None = None


@dataclass(frozen=True)
class GenerationSummary(Block):
    """One generated set: what was kept, copied, rejected and gated, per label and in all, and
    how fast it was made (`generation.pipeline.generation_summary`)."""

    model: str | None = None
    model_fingerprint: str | None = None
    strategy: dict[str, Any] | None = None
    seed: int | list[int] | None = None  # the case's block: every set's seed
    per_label: dict[str, dict[str, int]] | None = None
    short_labels: list[str] | None = None
    short_label_reasons: dict[str, str] | None = None
    kept: int | None = None
    demo_copies: int | None = None
    rejected: int | None = None
    parse_dropped: dict[str, int] | None = None
    demos_used: dict[str, int] | None = None
    descriptions: dict[str, str | None] | None = None
    descriptions_by: str | None = None
    demos_translated_by: str | None = optional()
    stats: dict[str, Any] | None = None
    samples_per_second: float | None = None
    tokens_per_second: float | None = None
    cache_hits: int | None = None
    selection: dict[str, Any] | None = None
    gates: dict[str, Any] | None = optional()

    @property
    def throughput(self) -> Throughput:
        return Throughput(
            samples_per_second=self.samples_per_second,
            stats=self.stats,
            tokens_per_second=self.tokens_per_second,
        )


@dataclass(frozen=True)
class CaseGeneration(GenerationSummary):
    """A case's `generation` block: its sets' counts summed (`merged`), each set's own summary
    under `runs` (several sets), and the throughput of the run that called the model (`cold`).

    Records from before generation seeds hold one set's summary without `sets` and `runs`.
    """

    sets: int | None = None
    kept_per_set: list[int] | None = None
    runs: list[GenerationSummary] | None = nested(GenerationSummary, many=True, optional=True)
    cold: Throughput | None = nested(Throughput)

    @classmethod
    def merged(cls, summaries: list[GenerationSummary]) -> CaseGeneration:
        """The case's block of its generated sets: counts summed, `sets` and `kept_per_set`
        added, each set's own summary under `runs` (with several sets)."""
        first = summaries[0]
        if len(summaries) == 1:
            return cls.of(first, sets=1, kept_per_set=[first.kept])
        stats = {
            key: sum(s.stats[key] for s in summaries)
            for key in first.stats
            if all(isinstance(s.stats[key], (int, float)) for s in summaries)
        }
        seconds = stats.get("seconds") or 0
        kept = sum(s.kept for s in summaries)
        return cls.of(
            first,
            seed=[s.seed for s in summaries],
            sets=len(summaries),
            kept_per_set=[s.kept for s in summaries],
            per_label=_summed_per_label([s.per_label for s in summaries]),
            short_labels=sorted({label for s in summaries for label in s.short_labels}),
            kept=kept,
            demo_copies=sum(s.demo_copies for s in summaries),
            rejected=sum(s.rejected for s in summaries),
            parse_dropped=dict(sorted(_summed([s.parse_dropped for s in summaries]).items())),
            stats=stats,
            samples_per_second=round(kept / seconds, 3) if seconds else None,
            tokens_per_second=round(stats["completion_tokens"] / seconds, 2) if seconds else None,
            cache_hits=sum(s.cache_hits for s in summaries),
            gates=None if first.gates is None else merged_gates([s.gates for s in summaries]),
            runs=list(summaries),
        )

    @classmethod
    def of(cls, summary: GenerationSummary, **changes: Any) -> CaseGeneration:
        """The case's block that starts from one set's summary."""
        shared = {name: getattr(summary, name) for name in GenerationSummary.names()}
        return cls(**shared, extra=summary.extra).replace(**changes)

    @property
    def set_summaries(self) -> list[GenerationSummary]:
        """Each generated set's own summary (the block itself for a single set)."""
        return list(self.runs) if self.runs else [self]

    @property
    def cold_throughput(self) -> Throughput | None:
        """The throughput of the run that called the model; None when the block was made
        (partly) from the response cache and no cold run is on record."""
        if self.has("cold"):
            return self.cold
        return None if self.cache_hits else self.throughput


def _summed(counts: list[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for one in counts:
        for key, value in one.items():
            out[key] = out.get(key, 0) + value
    return out


def _summed_per_label(per_set: list[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    labels = dict.fromkeys(label for per_label in per_set for label in per_label)
    return {
        label: _summed([per_label[label] for per_label in per_set if label in per_label])
        for label in labels
    }


def merged_gates(per_set: list[dict[str, Any]]) -> dict[str, Any]:
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


@dataclass(frozen=True)
class ModelScores(Block):
    """A small model's test scores (FreeAL's final model and its supervised references)."""

    macro_f1: float | None = None
    accuracy: float | None = None
    n: int | None = optional()  # the same-budget reference: the gold demos it trained on


@dataclass(frozen=True)
class FreeALRound(Block):
    """One FreeAL round of one seed, or (the record's `rounds`) its metrics' means over seeds."""

    round: int | None = None
    kept: int | float | None = optional()  # texts that kept the small model's label
    annotated: int | float | None = optional()
    abstained: int | None = optional()
    abstention_share: float | None = optional()
    llm_accuracy_fresh: float | None = optional()
    label_accuracy: float | None = optional()
    small_model_pool_accuracy: float | None = optional()
    test_macro_f1: float | None = optional()
    test_accuracy: float | None = optional()
    label_counts: dict[str, int] | None = optional()
    clean_counts: dict[str, int] | None = optional()
    clean: int | float | None = optional()
    classes_present: int | None = optional()
    collapsing: list[str] | None = optional()
    seconds: dict[str, float] | None = optional()

    def metric(self, name: str) -> Any:
        """A metric by name (tables and figures pick them by name)."""
        return getattr(self, name) if name in self.names() else self.extra.get(name)


@dataclass(frozen=True)
class FreeALPool(Block):
    """The pool a FreeAL seed annotates: its size and hidden true label counts."""

    size: int | None = None
    label_counts: dict[str, int] | None = None


@dataclass(frozen=True)
class FreeALDemos(Block):
    """The round-0 demonstrations of a FreeAL seed: their source and number."""

    source: str | None = None
    demos: int | None = None
    short_labels: list[str] | None = optional()  # generated demos: labels short of quota


@dataclass(frozen=True)
class FreeALPredictions(Block):
    """Label index per test item of the final model and of the same-budget reference (kept
    apart from the record, in `predictions.json`)."""

    final: list[int] | None = None
    same_budget: list[int] | None = None


@dataclass(frozen=True)
class FreeALRun(Block):
    """All rounds of one FreeAL seed (`freeal.rounds.run_freeal`)."""

    seed: int | None = None
    pool: FreeALPool | None = nested(FreeALPool)
    demos: FreeALDemos | None = nested(FreeALDemos)
    augment_seconds: float | None = None
    rounds: list[FreeALRound] | None = nested(FreeALRound, many=True)
    final: ModelScores | None = nested(ModelScores)
    supervised_reference: ModelScores | None = nested(ModelScores)
    same_budget_reference: ModelScores | None = nested(ModelScores)
    test_predictions: FreeALPredictions | None = nested(FreeALPredictions, optional=True)


@dataclass(frozen=True)
class FreeALBlock(Block):
    """The record's `freeal` block: every seed's run and the rounds' means over seeds."""

    per_seed: list[FreeALRun] | None = nested(FreeALRun, many=True)
    rounds: list[FreeALRound] | None = nested(FreeALRound, many=True)
