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

import hashlib
import json
import math
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark import progress
from benchmark.case.records import case_dir, write_text_atomic
from benchmark.case.spec import CaseSpec, GenerationOptions
from benchmark.context import RunContext
from benchmark.data.languages import resolve_language
from benchmark.data.loaders import Example, sample_per_label
from benchmark.data.source import DataSource
from benchmark.generation.chat_model import chat_model
from benchmark.generation.describe import summarised_descriptions
from benchmark.generation.gates import build_gates, failed_gates
from benchmark.generation.labels import human_description
from benchmark.generation.parse import normalise_for_match, parse_samples, split_demo_copies
from benchmark.generation.prompts import (
    base_generation_prompt,
    fit_demos_to_context,
    generation_messages,
    resolve_prompt_style,
    revision_prompt,
    revision_reason_messages,
    translation_messages,
)
from benchmark.llm.backend import ChatRequest, ChoiceRequest, SamplingParams
from benchmark.selection import POOL_METHODS, SELECTORS, pool_scores
from benchmark.strategies import STRATEGIES, GenerationStrategy

YES_NO = ("yes", "no")
TOP_UP_HEADROOM = 1.25  # top-ups ask for 25% more than the observed yield predicts is missing


@dataclass
class Candidate:
    """One parsed sample and what became of it."""

    label: str
    text: str
    round: int
    status: str  # kept | rejected | demo_copy | duplicate | gated | surplus | unselected
    reason: str = ""


@dataclass
class GenerationStats:
    requests: int = 0
    cached_requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    revision_checks: int = 0
    samples_passed: int = 0  # passed parsing, de-duplication and revision
    seconds: float = 0.0
    rounds: int = 0


def request_seed(*parts: Any) -> int:
    """A stable 31-bit seed from any parts (label, round, index ...)."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()
    return int(digest[:8], 16) & 0x7FFFFFFF


def build_demos(
    spec: CaseSpec, strategy: GenerationStrategy, *, data: DataSource, backend, seed: int
) -> dict[str, list[str]]:
    """Demos per label from the gold train split (never dev/test), translated if asked."""
    labels = data.labels(spec.dataset)
    k = spec.generation.demos_per_label
    if strategy.demos == "none" or k == 0:
        return {label: [] for label in labels}
    source = "en" if strategy.demos in ("english", "translated") else spec.language
    train = data.split(spec.dataset, source, "train")
    demos: dict[str, list[str]] = defaultdict(list)
    for example in sample_per_label(train, k, seed=seed):
        demos[example.label].append(example.text)
    if strategy.demos == "translated":
        demos = translate_demos(demos, spec=spec, backend=backend, seed=seed)
    return {label: demos.get(label, []) for label in labels}


def translate_demos(
    demos: dict[str, list[str]], *, spec: CaseSpec, backend, seed: int
) -> dict[str, list[str]]:
    """English demos translated into the case language by the LLM (greedy, first line kept)."""

    target = resolve_language(spec.language).name
    flat = [(label, text) for label, texts in demos.items() for text in texts]
    requests = [
        ChatRequest(
            translation_messages(
                text=text, source_language_name="English", target_language_name=target
            ),
            SamplingParams(temperature=0.0, max_new_tokens=128, seed=seed),
        )
        for _, text in flat
    ]
    out: dict[str, list[str]] = defaultdict(list)
    with progress.counter(f"demo translation into {target}", len(requests)) as done:
        replies = backend.generate(requests, on_result=done)
    for (label, text), reply in zip(flat, replies, strict=True):
        parsed = parse_samples(
            reply.text, min_chars=1, max_chars=400, finish_reason=reply.finish_reason
        )
        out[label].append(parsed.samples[0] if parsed.samples else text)
    return dict(out)


def label_descriptions(
    spec: CaseSpec, strategy: GenerationStrategy, *, ctx
) -> dict[str, str | None]:
    """The description shown per label (none, human-written, or LLM-summarised).

    Summaries come from `generation.descriptions_file` when set (a YAML file with a
    `descriptions: {label: text}` mapping, e.g. written once by a strong model, as the study did),
    else from `generation.description_model` (default: the revision model when one is set, as a
    base generator cannot summarise by chat; else the case's model).
    """

    labels = ctx.data.labels(spec.dataset)
    if strategy.description == "none":
        return dict.fromkeys(labels)
    if strategy.description == "human":
        return {label: human_description(spec.dataset, label) for label in labels}
    gen = spec.generation
    if gen.descriptions_file:
        return read_descriptions_file(Path(gen.descriptions_file), labels)
    model = gen.description_model or gen.revision_model or spec.model
    summaries = summarised_descriptions(
        spec.dataset,
        model=model,
        k=gen.description_examples,
        out_dir=ctx.results_dir.parent,
        backend_factory=lambda: ctx.backends(gen, model),
        data=ctx.data,
    )
    return {label: summaries.get(label) for label in labels}


def read_descriptions_file(path: Path, labels: tuple[str, ...]) -> dict[str, str | None]:
    """Label descriptions from a YAML file; every label of the dataset must have one."""
    import yaml

    try:
        stored = yaml.safe_load(path.read_text(encoding="utf-8"))
        found = stored["descriptions"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"generation.descriptions_file {path}: cannot read a `descriptions:` mapping ({err})"
        ) from None
    missing = [label for label in labels if not found.get(label)]
    if missing:
        raise ValueError(f"generation.descriptions_file {path}: no description for {missing}")
    return {label: str(found[label]) for label in labels}


def descriptions_author(spec: CaseSpec, strategy: GenerationStrategy) -> str | None:
    """Who wrote the descriptions a case shows (in its generation or revision prompts): a file,
    a model, humans, or nobody (None)."""
    gen = spec.generation or GenerationOptions()
    kind = strategy.description
    if kind == "none" and strategy.revision:
        shown = gen.revision_description
        kind = "none" if shown == "strategy" else shown
    if kind == "none":
        return None
    if kind == "human":
        return "human-written"
    if gen.descriptions_file:
        return f"file {gen.descriptions_file}"
    return f"model {gen.description_model or gen.revision_model or spec.model}"


class CaseGenerator:
    """Runs the generation rounds of one case and keeps every candidate."""

    def __init__(self, spec: CaseSpec, ctx: RunContext, *, seed: int):
        self.spec, self.ctx, self.seed = spec, ctx, seed
        self.gen = spec.generation
        self.strategy = STRATEGIES[spec.setting]
        self.language = resolve_language(spec.language)
        self.labels = ctx.data.labels(spec.dataset)
        progress.stage(f"loading {spec.model} ({self.gen.backend} backend)")
        self.backend = ctx.backends(self.gen, spec.model)
        self.prompt_style = self._style(spec.model, self.backend)
        reviser = self.gen.revision_model or spec.model
        self.reviser = self.backend if reviser == spec.model else ctx.backends(self.gen, reviser)
        self.revision_style = self._style(reviser, self.reviser)
        self.stop: tuple[str, ...] = ()
        self.translator = spec.model
        if self.strategy.demos == "translated":
            try:
                self.translator, translator_backend = chat_model(self.gen, spec.model, ctx.backends)
            except ValueError as err:
                raise ValueError(f"{spec.case_id}: translated_demos: {err}") from None
            progress.stage(
                f"translating {self.gen.demos_per_label} English demos per label into "
                f"{self.language.name} with {self.translator}"
            )
        else:
            translator_backend = self.backend
        self.demos = build_demos(
            spec, self.strategy, data=ctx.data, backend=translator_backend, seed=seed
        )
        self.descriptions = label_descriptions(spec, self.strategy, ctx=ctx)
        self.gates = build_gates(spec.gates, self.language, data_dir=ctx.data_dir)
        self.gated: dict[str, dict[str, int]] = {label: defaultdict(int) for label in self.labels}
        self.revision_descriptions = self._revision_descriptions()
        self.candidates: list[Candidate] = []
        self.seen: dict[str, set[str]] = {label: set() for label in self.labels}
        self.attempts: dict[str, int] = dict.fromkeys(self.labels, 0)
        self.tokens: dict[str, int] = dict.fromkeys(self.labels, 0)
        self.demos_used: dict[str, int] = {}
        self.parse_drops: dict[str, int] = defaultdict(int)
        self.stats = GenerationStats()
        inner = getattr(self.backend, "backend", self.backend)
        progress.set_token_source(lambda: getattr(inner, "decoded_tokens", None))

    # -- prompts ---------------------------------------------------------------------------
    def _style(self, model: str, backend) -> str:
        return resolve_prompt_style(self.gen.prompt_style, model, backend)

    def _revision_descriptions(self) -> dict[str, str | None]:
        """The description each revision prompt shows: by default the summarised one, always
        (the study's code); `revision_description: strategy` shows the strategy's only."""
        from dataclasses import replace

        which = self.gen.revision_description
        if not self.strategy.revision or which == "strategy":
            return self.descriptions
        if which == self.strategy.description:
            return self.descriptions
        strategy = replace(self.strategy, description=which)
        return label_descriptions(self.spec, strategy, ctx=self.ctx)

    def _messages(self, label: str):
        demo_language = None
        if self.demos[label]:
            demo_language = "English" if self.strategy.demos == "english" else self.language.name

        def build(demos):
            fields = {
                "label": label,
                "language_name": self.language.name,
                "n": self.gen.per_request,
                "description": self.descriptions[label],
                "demos": demos,
                "demo_language_name": demo_language,
            }
            if self.prompt_style == "base":
                prompt = base_generation_prompt(**fields)
                self.stop = prompt.stop
                return prompt.messages
            rule = self.gen.demo_copy_rule
            return generation_messages(**fields, demo_copy_rule=rule)

        budget = self.backend.max_model_len - self.gen.max_new_tokens
        messages, used = fit_demos_to_context(
            build, self.demos[label], self.backend.count_tokens, max_prompt_tokens=budget
        )
        self.demos_used[label] = used
        return messages

    def kept(self, label: str) -> int:
        return sum(1 for c in self.candidates if c.label == label and c.status == "kept")

    def progress_detail(self) -> str:
        """Kept samples so far (finished rounds) and the labels still short, for progress lines."""
        kept = {label: min(self.kept(label), self.target) for label in self.labels}
        short = [f"{label} {k}/{self.target}" for label, k in kept.items() if k < self.target]
        line = f"kept {sum(kept.values())}/{self.target * len(self.labels)}"
        if len(short) > 3:
            return f"{line}, {len(short)} labels short"
        return line + (f" (short: {', '.join(short)})" if short else "")

    def _round_requests(self, round_index: int) -> list[tuple[str, Any]]:
        n, per = self.target, self.gen.per_request
        expected = per * self.observed_yield()
        headroom = TOP_UP_HEADROOM if self.stats.requests else 1.0
        planned = []
        for label in self.labels:
            missing = n - self.kept(label)
            left = self.gen.max_attempts - self.attempts[label]
            if missing <= 0 or left <= 0 or self.tokens[label] >= self.token_budget:
                continue
            count = min(left, max(1, math.ceil(headroom * missing / expected)))
            tokens_left = self.token_budget - self.tokens[label]
            count = min(count, max(1, math.ceil(tokens_left / self.tokens_per_prompt())))
            messages = self._messages(label)
            planned.extend((label, self.next_attempt(label, messages)) for _ in range(count))
        return planned

    def next_attempt(self, label: str, messages):
        """The label's next generation request, seeded by (seed, language, label, attempt)."""

        attempt = self.attempts[label]
        self.attempts[label] += 1
        sampling = SamplingParams(
            temperature=self.gen.temperature,
            top_p=self.gen.top_p,
            repetition_penalty=self.gen.repetition_penalty,
            max_new_tokens=self.gen.max_new_tokens,
            seed=request_seed(self.seed, self.spec.language, label, attempt),
            stop=self.stop if self.prompt_style == "base" else (),
            dry_multiplier=self.gen.dry_multiplier,
        )
        return ChatRequest(messages, sampling)

    # -- one round -------------------------------------------------------------------------
    def run_round(self, round_index: int) -> bool:
        """Generate, parse and (optionally) revise one round; False when nothing was asked."""
        planned = self._round_requests(round_index)
        if not planned:
            return False
        start = time.perf_counter()
        with progress.counter(
            f"generation round {round_index + 1}",
            len(planned),
            detail=self.progress_detail,
            max_tokens=len(planned) * self.gen.max_new_tokens,
            seconds_per_item=self.stats.seconds / self.stats.requests
            if self.stats.requests
            else None,
        ) as done:
            replies = self.backend.generate([request for _, request in planned], on_result=done)
        fresh: list[Candidate] = []
        for (label, _), reply in zip(planned, replies, strict=True):
            self._count(reply)
            self.tokens[label] += reply.n_completion_tokens
            fresh.extend(self._parse(label, reply, round_index))
        if self.strategy.revision:
            self._revise([c for c in fresh if c.status == "pending"])
        self.stats.samples_passed += sum(c.status == "pending" for c in fresh)
        self._fill_quotas(fresh)
        if self.strategy.revision:
            self._explain([c for c in fresh if c.status == "rejected"])
        self.candidates.extend(fresh)
        self.stats.seconds += time.perf_counter() - start
        self.stats.rounds += 1
        # the counter's last line shows the quota before this round's samples were parsed
        progress.stage(f"generation round {round_index + 1} done: {self.progress_detail()}")
        return True

    def _count(self, reply) -> None:
        self.stats.requests += 1
        self.stats.cached_requests += int(reply.cached)
        self.stats.prompt_tokens += reply.n_prompt_tokens
        self.stats.completion_tokens += reply.n_completion_tokens

    def _parse(self, label: str, reply, round_index: int) -> list[Candidate]:
        parsed = parse_samples(
            reply.text,
            min_chars=self.gen.min_chars,
            max_chars=self.gen.max_chars,
            finish_reason=reply.finish_reason,
        )
        for reason, count in parsed.dropped.items():
            self.parse_drops[reason] += count
        kept, copies = split_demo_copies(parsed.samples, self.demos[label])
        if self.gen.keep_demo_copies:
            kept, copies = list(parsed.samples), []
        out = [
            Candidate(label, text, round_index, "demo_copy", "copies a prompt demo")
            for text in copies
        ]
        for text in kept:
            key = normalise_for_match(text)
            if key in self.seen[label]:
                out.append(
                    Candidate(label, text, round_index, "duplicate", "repeats an earlier sample")
                )
                continue
            self.seen[label].add(key)
            out.append(Candidate(label, text, round_index, "pending"))
        return [self._gate(c) for c in out]

    def _gate(self, c: Candidate) -> Candidate:
        """Drop a pending candidate that a quality gate fails (before revision, off the quota);
        every gate is checked so each one's count says what it catches on its own."""
        failed = failed_gates(self.gates, c.text, c.label) if c.status == "pending" else []
        if failed:
            c.status = "gated"
            c.reason = "; ".join(f"gate:{name}: {why}" for name, why in failed)
            for name, _ in failed:
                self.gated[c.label][name] += 1
        return c

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

    def _fill_quotas(self, fresh: list[Candidate]) -> None:
        """In attempt order per label: passed samples are kept until the label has its target;
        every later passed or rejected one is surplus (a sequential loop would not have got
        that far)."""
        kept = {label: self.kept(label) for label in self.labels}
        for c in fresh:
            if c.status not in ("pending", "rejected"):
                continue
            if kept[c.label] >= self.target:
                c.status, c.reason = "surplus", "label already had its samples"
            elif c.status == "pending":
                c.status = "kept"
                kept[c.label] += 1

    def _revise(self, pending: list[Candidate]) -> None:
        """One yes/no check per candidate, batched: "pending" (accepted) or "rejected"."""

        if not pending:
            return
        prompts = [
            revision_prompt(self.revision_style, **self._revision_fields(c)) for c in pending
        ]
        with progress.counter("revision checks", len(pending), unit="samples") as done:
            choices = self.reviser.choose(
                [ChoiceRequest(m, yes_no) for m, yes_no in prompts], on_result=done
            )
        self.stats.revision_checks += len(pending)
        for cand, answer, (_, (yes, no)) in zip(pending, choices, prompts, strict=True):
            margin = answer.logprobs[yes] - answer.logprobs[no]
            verdict = "accepted" if answer.choice == yes else "rejected"
            cand.status = "pending" if answer.choice == yes else "rejected"
            cand.reason = f"{verdict} (log-odds yes-no {margin:+.2f})"

    def _explain(self, rejected: list[Candidate]) -> None:
        """Ask the model why it rejected each candidate (greedy, batched); appended to reason."""

        if not rejected or self.revision_style == "base":
            return  # a base model answers no follow-up question
        sampling = SamplingParams(temperature=0.0, max_new_tokens=48, seed=0)
        requests = [
            ChatRequest(
                revision_reason_messages(**self._revision_fields(c), verdict="no"), sampling
            )
            for c in rejected
        ]
        with progress.counter("reasons for rejections", len(requests), unit="samples") as done:
            replies = self.reviser.generate(requests, on_result=done)
        for cand, reply in zip(rejected, replies, strict=True):
            cand.reason += f": {' '.join(reply.text.split())[:300]}"

    def _revision_fields(self, c: Candidate) -> dict[str, str]:
        return {
            "text": c.text,
            "label": c.label,
            "description": self.revision_descriptions[c.label],
            "language_name": self.language.name,
        }

    # -- whole case ------------------------------------------------------------------------
    def run(self, *, on_round=None) -> None:
        round_index = 0
        while self.run_round(round_index):
            round_index += 1
            if on_round:
                on_round(self)
        if self.spec.selection:
            self.select()

    @property
    def token_budget(self) -> int:
        """Generated tokens a label may use: `max_tokens_per_label`, default 400 x n."""
        budget = self.gen.max_tokens_per_label
        return budget if budget else 400 * self.target

    def stop_reason(self, label: str) -> str | None:
        """Why a label ended short of its target (None when it reached it)."""
        if self.kept(label) >= self.target:
            return None
        if self.tokens[label] >= self.token_budget:
            return f"token budget spent ({self.tokens[label]} of {self.token_budget})"
        return f"prompt budget spent ({self.attempts[label]} of {self.gen.max_attempts})"

    @property
    def target(self) -> int:
        """Kept samples wanted per label: n, or the pool size when a selection follows."""
        pool = self.spec.selection.pool_factor if self.spec.selection else 1
        return self.spec.samples_per_label * pool

    def select(self) -> None:
        """Keep n per label from the pool with the case's selection strategy."""

        options, n = self.spec.selection, self.spec.samples_per_label
        embedder = self.ctx.embedder(options.encoder)
        train = self.ctx.data.split(self.spec.dataset, self.spec.language, "train")
        gold_examples = sample_per_label(train, self.gen.demos_per_label or 10, seed=self.seed)
        pool = [c for c in self.candidates if c.status == "kept"]
        vectors = embedder.encode([c.text for c in pool])
        gold_vectors = embedder.encode([e.text for e in gold_examples])
        gold_labels = [e.label for e in gold_examples]
        if options.method in POOL_METHODS:
            scores = pool_scores(
                options.method,
                vectors,
                [c.label for c in pool],
                seed=self.seed,
                gold=gold_vectors,
                gold_labels=gold_labels,
            )
        for label in self.labels:
            rows = np.flatnonzero([c.label == label for c in pool])
            if len(rows) <= n:
                continue
            if options.method in POOL_METHODS:
                picked = rows[np.argsort(-scores[rows], kind="stable")[:n]]
            else:
                mask = np.asarray(gold_labels) == label
                picked = rows[
                    SELECTORS.get(options.method)(
                        vectors[rows],
                        n,
                        seed=request_seed(self.seed, "select", label),
                        gold=gold_vectors[mask],
                        metric=options.metric,
                    )
                ]
            for row in set(rows.tolist()) - set(picked.tolist()):
                pool[row].status, pool[row].reason = (
                    "unselected",
                    f"not picked by {options.method}",
                )

    def training_examples(self) -> list[Example]:
        return [
            Example(text=c.text, label=c.label, uid=f"gen-{i}", split="generated")
            for i, c in enumerate(self.candidates)
            if c.status == "kept"
        ]

    def summary(self) -> dict[str, Any]:
        per_label = {}
        statuses = ("kept", "rejected", "demo_copy", "duplicate", "surplus", "unselected")
        statuses += ("gated",) if self.gates else ()
        for label in self.labels:
            mine = [c for c in self.candidates if c.label == label]
            per_label[label] = {s: sum(1 for c in mine if c.status == s) for s in statuses}
            per_label[label]["prompts"] = self.attempts[label]
            per_label[label]["tokens"] = self.tokens[label]
        kept_total = sum(v["kept"] for v in per_label.values())
        s = self.stats
        return {
            "model": self.spec.model,
            "model_fingerprint": self.backend.fingerprint,
            "strategy": asdict(self.strategy),
            "seed": self.seed,
            "per_label": per_label,
            "short_labels": sorted(
                k for k, v in per_label.items() if v["kept"] < self.spec.samples_per_label
            ),
            "short_label_reasons": {
                label: reason
                for label in self.labels
                if (reason := self.stop_reason(label)) is not None
            },
            "kept": kept_total,
            "demo_copies": sum(v["demo_copy"] for v in per_label.values()),
            "rejected": sum(v["rejected"] for v in per_label.values()),
            "parse_dropped": dict(sorted(self.parse_drops.items())),
            "demos_used": self.demos_used,
            "descriptions": self.descriptions,
            "descriptions_by": descriptions_author(self.spec, self.strategy),
            **(
                {"demos_translated_by": self.translator}
                if self.strategy.demos == "translated"
                else {}
            ),
            "stats": asdict(s),
            "samples_per_second": round(kept_total / s.seconds, 3) if s.seconds else None,
            "tokens_per_second": round(s.completion_tokens / s.seconds, 2) if s.seconds else None,
            "cache_hits": s.cached_requests,
            "selection": self.spec.selection.stored() if self.spec.selection else None,
            **({"gates": self.gate_summary()} if self.gates else {}),
        }

    def gate_summary(self) -> dict[str, Any]:
        """Samples each gate dropped, in all and per label (one sample can fail several)."""
        names = [gate.name for gate in self.gates]
        return {
            "names": names,
            "gated": sum(c.status == "gated" for c in self.candidates),
            "dropped": {n: sum(v.get(n, 0) for v in self.gated.values()) for n in names},
            "dropped_per_label": {
                label: {n: counts.get(n, 0) for n in names} for label, counts in self.gated.items()
            },
        }

    def write(self, folder: Path, name: str = "generated.jsonl", *, partial: bool = False) -> None:
        """Candidates so far: `<name>.partial.jsonl` between rounds, `<name>` at the end."""
        rows = [
            json.dumps({**asdict(c), "strategy": self.spec.setting}, ensure_ascii=False)
            for c in self.candidates
        ]
        target = partial_name(name) if partial else name
        write_text_atomic(folder / target, "\n".join(rows) + ("\n" if rows else ""))
        if not partial:
            (folder / partial_name(name)).unlink(missing_ok=True)


def partial_name(name: str) -> str:
    """What a killed or failed generation leaves: "kept" there means "kept so far"."""
    return name.removesuffix(".jsonl") + ".partial.jsonl"


PARTIAL_FILE = partial_name("generated.jsonl")


def generated_set(
    spec: CaseSpec, ctx: RunContext, *, generation_seed: int
) -> tuple[list[Example], dict[str, Any]]:
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
    generator = CaseGenerator(spec, ctx, seed=generation_seed)
    generator.run(on_round=lambda g: g.write(folder, name, partial=True))
    generator.write(folder, name)
    return generator.training_examples(), {"generation": generator.summary()}


def generated_training_set(
    spec: CaseSpec, ctx: RunContext, *, seed: int
) -> tuple[list[Example], dict[str, Any]]:
    """The generated set of the case's first generation seed (FreeAL's generated demos).

    `seed` (a classifier or FreeAL seed) does not change the set.
    """
    return generated_set(spec, ctx, generation_seed=spec.generation_seeds[0])
