"""Generating a case's training data: demos -> prompts -> parse -> (revise) -> n per label.

The scheduler builds every prompt of a round up front (all labels at once), sends
them as one batch, parses, then sends every revision check of the round as one
batch, and tops up only the labels still short, until each label has n kept
samples or has used `max_attempts` prompts. Every call goes through the response
cache, so a rerun (or a run restarted after a kill) is served from it.

Top-ups are sized by the case's observed yield (samples that passed parsing,
de-duplication and revision per sample asked for), so a model that keeps one
sample in three gets three times the prompts (plus 25% headroom) in the next
round instead of crawling one round per attempt. Sizing never changes which samples are kept:
a label's candidates are taken in attempt order, the first n that pass are
kept and every later one is "surplus" (not revised further, no reason asked),
exactly what a one-prompt-at-a-time loop would keep.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmark import progress
from benchmark.case.records import case_dir
from benchmark.case.results import GenerationSummary
from benchmark.case.spec import CaseSpec
from benchmark.context import RunContext
from benchmark.data.languages import resolve_language
from benchmark.data.loaders import Example
from benchmark.generation.candidates import Candidate, GenerationStats
from benchmark.generation.gates import build_gates
from benchmark.generation.inputs import descriptions_author, generation_inputs
from benchmark.generation.prompt_builder import PromptBuilder
from benchmark.generation.prompts import resolve_prompt_style
from benchmark.generation.reviser import Reviser
from benchmark.generation.steps import GateStep, ReplyParser, fill_quotas, select_from_pool
from benchmark.generation.writer import write_candidates
from benchmark.strategies import STRATEGIES, GenerationStrategy

TOP_UP_HEADROOM = 1.25  # top-ups ask for 25% more than the observed yield predicts is missing


class CaseGenerator:
    """Schedules the generation rounds of one set and keeps every candidate; its parts are the
    inputs (demos, descriptions), the prompt builder, the reply parser, the gates, the reviser
    and the selection."""

    def __init__(
        self,
        spec: CaseSpec,
        ctx: RunContext,
        *,
        seed: int,
        strategy: GenerationStrategy | None = None,
    ):
        self.spec, self.ctx, self.seed = spec, ctx, seed
        self.gen = spec.generation
        self.strategy = strategy or built_in_strategy(spec.setting)
        self.language = resolve_language(spec.language)
        self.labels = ctx.data.labels(spec.dataset)
        progress.stage(f"loading {spec.model} ({self.gen.backend} backend)")
        self.backend = ctx.backends(self.gen, spec.model)
        style = resolve_prompt_style(self.gen.prompt_style, spec.model, self.backend)
        reviser_model = self.gen.revision_model or spec.model
        reviser = (
            self.backend if reviser_model == spec.model else ctx.backends(self.gen, reviser_model)
        )
        revision_style = resolve_prompt_style(self.gen.prompt_style, reviser_model, reviser)
        self.inputs = generation_inputs(spec, self.strategy, ctx, backend=self.backend, seed=seed)
        self.gates = GateStep(
            build_gates(spec.gates, self.language, data_dir=ctx.data_dir), self.labels
        )
        self.stats = GenerationStats()
        self.prompts = PromptBuilder(
            spec, self.strategy, self.inputs, self.backend,
            style=style, language_name=self.language.name, seed=seed,
        )  # fmt: skip
        self.parser = ReplyParser(self.gen, self.inputs.demos)
        self.reviser = Reviser(
            reviser, style=revision_style, descriptions=self.inputs.revision_descriptions,
            language_name=self.language.name, stats=self.stats, reasons=self.gen.revision_reasons,
        )  # fmt: skip
        self.candidates: list[Candidate] = []
        self.attempts: dict[str, int] = dict.fromkeys(self.labels, 0)
        self.tokens: dict[str, int] = dict.fromkeys(self.labels, 0)
        inner = getattr(self.backend, "backend", self.backend)
        progress.set_token_source(lambda: getattr(inner, "decoded_tokens", None))

    # -- budgets and quotas ----------------------------------------------------------------
    @property
    def target(self) -> int:
        """Kept samples wanted per label: n, or the pool size when a selection follows."""
        pool = self.spec.selection.pool_factor if self.spec.selection else 1
        return self.spec.samples_per_label * pool

    @property
    def token_budget(self) -> int:
        """Generated tokens a label may use: `max_tokens_per_label`, default 400 x n."""
        budget = self.gen.max_tokens_per_label
        return budget if budget else 400 * self.target

    def kept(self, label: str) -> int:
        return sum(1 for c in self.candidates if c.label == label and c.status == "kept")

    def short(self, label: str) -> bool:
        """The label may ask for another prompt: short of its target, prompts and tokens left."""
        return (
            self.kept(label) < self.target
            and self.attempts[label] < self.gen.max_attempts
            and self.tokens[label] < self.token_budget
        )

    def stop_reason(self, label: str) -> str | None:
        """Why a label ended short of its target (None when it reached it)."""
        if self.kept(label) >= self.target:
            return None
        if self.tokens[label] >= self.token_budget:
            return f"token budget spent ({self.tokens[label]} of {self.token_budget})"
        return f"prompt budget spent ({self.attempts[label]} of {self.gen.max_attempts})"

    def tokens_per_prompt(self) -> float:
        """Mean completion tokens per request so far (max_new_tokens before the first)."""
        if not self.stats.requests:
            return float(self.gen.max_new_tokens)
        return max(1.0, self.stats.completion_tokens / self.stats.requests)

    def observed_yield(self) -> float:
        """Samples that passed (parse, de-duplication, revision) per sample asked for so far;
        1.0 before the first round, at least 0.1 (a label then gets its remaining attempts)."""
        asked = self.gen.per_request * self.stats.requests
        return max(0.1, self.stats.samples_passed / asked) if asked else 1.0

    def progress_detail(self) -> str:
        """Kept samples so far (finished rounds) and the labels still short, for progress lines."""
        kept = {label: min(self.kept(label), self.target) for label in self.labels}
        short = [f"{label} {k}/{self.target}" for label, k in kept.items() if k < self.target]
        line = f"kept {sum(kept.values())}/{self.target * len(self.labels)}"
        if len(short) > 3:
            return f"{line}, {len(short)} labels short"
        return line + (f" (short: {', '.join(short)})" if short else "")

    # -- the steps, one reply or candidate list at a time ----------------------------------
    def next_attempt(self, label: str, messages):
        """The label's next generation request (its attempt counted)."""
        attempt = self.attempts[label]
        self.attempts[label] += 1
        return self.prompts.request(label, messages, attempt)

    def take_reply(self, label: str, reply, round_index: int) -> list[Candidate]:
        """Counts a reply and turns it into gated candidates (not yet kept)."""
        self.stats.count(reply)
        self.tokens[label] += reply.n_completion_tokens
        return [self.gates.apply(c) for c in self.parser.parse(label, reply, round_index)]

    def fill_quotas(self, fresh: list[Candidate]) -> None:
        """Keeps passed candidates up to each label's target (see `steps.fill_quotas`)."""
        fill_quotas(fresh, {label: self.kept(label) for label in self.labels}, self.target)

    # -- rounds ----------------------------------------------------------------------------
    def round_requests(self) -> list[tuple[str, Any]]:
        """(label, request) of every prompt of the next round, sized by the observed yield."""
        expected = self.gen.per_request * self.observed_yield()
        headroom = TOP_UP_HEADROOM if self.stats.requests else 1.0
        planned = []
        for label in self.labels:
            if not self.short(label):
                continue
            missing = self.target - self.kept(label)
            left = self.gen.max_attempts - self.attempts[label]
            count = min(left, max(1, math.ceil(headroom * missing / expected)))
            tokens_left = self.token_budget - self.tokens[label]
            count = min(count, max(1, math.ceil(tokens_left / self.tokens_per_prompt())))
            messages = self.prompts.messages(label)
            planned.extend((label, self.next_attempt(label, messages)) for _ in range(count))
        return planned

    def run_round(self, round_index: int) -> bool:
        """Generate, parse and (optionally) revise one round; False when nothing was asked."""
        planned = self.round_requests()
        if not planned:
            return False
        start = time.perf_counter()
        seconds = self.stats.seconds / self.stats.requests if self.stats.requests else None
        with progress.counter(
            f"generation round {round_index + 1}",
            len(planned),
            detail=self.progress_detail,
            max_tokens=len(planned) * self.gen.max_new_tokens,
            seconds_per_item=seconds,
        ) as done:
            replies = self.backend.generate([request for _, request in planned], on_result=done)
        fresh: list[Candidate] = []
        for (label, _), reply in zip(planned, replies, strict=True):
            fresh.extend(self.take_reply(label, reply, round_index))
        if self.strategy.revision:
            self.reviser.revise([c for c in fresh if c.status == "pending"])
        self.stats.samples_passed += sum(c.status == "pending" for c in fresh)
        self.fill_quotas(fresh)
        if self.strategy.revision:
            self.reviser.explain([c for c in fresh if c.status == "rejected"])
        self.candidates.extend(fresh)
        self.stats.seconds += time.perf_counter() - start
        self.stats.rounds += 1
        # the counter's last line shows the quota before this round's samples were parsed
        progress.stage(f"generation round {round_index + 1} done: {self.progress_detail()}")
        return True

    def run(self, *, on_round=None) -> None:
        round_index = 0
        while self.run_round(round_index):
            round_index += 1
            if on_round:
                on_round(self)
        if self.spec.selection:
            select_from_pool(
                self.candidates, self.spec, self.ctx, labels=self.labels, seed=self.seed
            )

    # -- results ---------------------------------------------------------------------------
    def training_examples(self) -> list[Example]:
        return [
            Example(text=c.text, label=c.label, uid=f"gen-{i}", split="generated")
            for i, c in enumerate(self.candidates)
            if c.status == "kept"
        ]

    def write(self, folder: Path, name: str = "generated.jsonl", *, partial: bool = False) -> None:
        """Candidates so far: `<name>.partial.jsonl` between rounds, `<name>` at the end."""
        write_candidates(
            folder, self.candidates, setting=self.spec.setting, name=name, partial=partial
        )

    def summary(self) -> GenerationSummary:
        """The record's `generation` block of this set."""
        return generation_summary(self)


def label_counts(gen: CaseGenerator) -> dict[str, dict[str, int]]:
    """Candidates per status, prompts and tokens, per label."""
    statuses = ("kept", "rejected", "demo_copy", "duplicate", "surplus", "unselected")
    statuses += ("gated",) if gen.gates.gates else ()
    per_label = {}
    for label in gen.labels:
        mine = [c for c in gen.candidates if c.label == label]
        per_label[label] = {s: sum(1 for c in mine if c.status == s) for s in statuses}
        per_label[label]["prompts"] = gen.attempts[label]
        per_label[label]["tokens"] = gen.tokens[label]
    return per_label


def generation_summary(gen: CaseGenerator) -> GenerationSummary:
    """The record's `generation` block of one generated set."""
    per_label = label_counts(gen)
    kept_total = sum(v["kept"] for v in per_label.values())
    s, spec, strategy = gen.stats, gen.spec, gen.strategy
    return GenerationSummary(
        model=spec.model,
        model_fingerprint=gen.backend.fingerprint,
        strategy=asdict(strategy),
        seed=gen.seed,
        per_label=per_label,
        short_labels=sorted(k for k, v in per_label.items() if v["kept"] < spec.samples_per_label),
        short_label_reasons={
            label: reason for label in gen.labels if (reason := gen.stop_reason(label)) is not None
        },
        kept=kept_total,
        demo_copies=sum(v["demo_copy"] for v in per_label.values()),
        rejected=sum(v["rejected"] for v in per_label.values()),
        parse_dropped=dict(sorted(gen.parser.dropped.items())),
        demos_used=gen.prompts.demos_used,
        descriptions=gen.inputs.descriptions,
        descriptions_by=descriptions_author(spec, strategy),
        demos_translated_by=gen.inputs.translator if strategy.demos == "translated" else None,
        stats=asdict(s),
        samples_per_second=round(kept_total / s.seconds, 3) if s.seconds else None,
        tokens_per_second=round(s.completion_tokens / s.seconds, 2) if s.seconds else None,
        cache_hits=s.cached_requests,
        selection=spec.selection.stored() if spec.selection else None,
        gates=gen.gates.summary(gen.candidates) if gen.gates.gates else None,
    )


def built_in_strategy(name: str) -> GenerationStrategy:
    """A built-in strategy by name (a plugin's setting passes its own strategy instead)."""
    if name not in STRATEGIES:
        raise ValueError(
            f"{name!r} is not a built-in generation strategy; pass the setting's strategy"
        )
    return STRATEGIES[name]


def generated_set(
    spec: CaseSpec,
    ctx: RunContext,
    *,
    generation_seed: int,
    strategy: GenerationStrategy | None = None,
) -> tuple[list[Example], GenerationSummary]:
    """One generated training set of the case (the runner asks once per generation seed).

    Demos are drawn and requests seeded with `generation_seed`. Candidates are written to
    `<results>/<case_id>/generated.partial.jsonl` after every round, so partial data survives a
    failure, and to `generated.jsonl` (the partial file removed) once generation is done; with
    several generation seeds the files are `generated-seed<g>[.partial].jsonl`.
    """
    folder = case_dir(ctx.results_dir, spec.case_id)
    seeds = spec.generation_seeds
    name = "generated.jsonl" if len(seeds) <= 1 else f"generated-seed{generation_seed}.jsonl"
    if name != "generated.jsonl":  # a single set's file from an earlier spec would mislead
        (folder / "generated.jsonl").unlink(missing_ok=True)
    generator = CaseGenerator(spec, ctx, seed=generation_seed, strategy=strategy)
    generator.run(on_round=lambda g: g.write(folder, name, partial=True))
    generator.write(folder, name)
    return generator.training_examples(), generator.summary()


def generated_training_set(
    spec: CaseSpec, ctx: RunContext, *, seed: int
) -> tuple[list[Example], GenerationSummary]:
    """The generated set of the case's first generation seed (FreeAL's generated demos).

    `seed` (a classifier or FreeAL seed) does not change the set.
    """
    return generated_set(spec, ctx, generation_seed=spec.generation_seeds[0])
