"""The steps a round's candidates go through after the model answered: parse (demo copies and
repeats marked), quality gates, the per-label quota, and the selection from the pool."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from benchmark.case.spec import CaseSpec, GenerationOptions
from benchmark.context import RunContext
from benchmark.data.loaders import sample_per_label
from benchmark.generation.candidates import Candidate, request_seed
from benchmark.generation.gates import failed_gates
from benchmark.generation.parse import normalise_for_match, parse_samples, split_demo_copies
from benchmark.selection import POOL_METHODS, SELECTORS, pool_scores


class ReplyParser:
    """Turns a reply into candidates: copies of a prompt demo and repeats of an earlier sample
    are marked, the rest is "pending"; counts what the parser dropped."""

    def __init__(self, gen: GenerationOptions, demos: dict[str, list[str]]) -> None:
        self.gen, self.demos = gen, demos
        self.seen: dict[str, set[str]] = defaultdict(set)
        self.dropped: dict[str, int] = defaultdict(int)

    def parse(self, label: str, reply, round_index: int) -> list[Candidate]:
        parsed = parse_samples(
            reply.text,
            min_chars=self.gen.min_chars,
            max_chars=self.gen.max_chars,
            finish_reason=reply.finish_reason,
        )
        for reason, count in parsed.dropped.items():
            self.dropped[reason] += count
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
        return out


class GateStep:
    """Drops a pending candidate that a quality gate fails (before revision, off the quota);
    every gate is checked so each one's count says what it catches on its own."""

    def __init__(self, gates: list, labels: tuple[str, ...]) -> None:
        self.gates = gates
        self.gated: dict[str, dict[str, int]] = {label: defaultdict(int) for label in labels}

    def apply(self, c: Candidate) -> Candidate:
        failed = failed_gates(self.gates, c.text, c.label) if c.status == "pending" else []
        if failed:
            c.status = "gated"
            c.reason = "; ".join(f"gate:{name}: {why}" for name, why in failed)
            for name, _ in failed:
                self.gated[c.label][name] += 1
        return c

    def summary(self, candidates: list[Candidate]) -> dict[str, Any]:
        """Samples each gate dropped, in all and per label (one sample can fail several)."""
        names = [gate.name for gate in self.gates]
        return {
            "names": names,
            "gated": sum(c.status == "gated" for c in candidates),
            "dropped": {n: sum(v.get(n, 0) for v in self.gated.values()) for n in names},
            "dropped_per_label": {
                label: {n: counts.get(n, 0) for n in names} for label, counts in self.gated.items()
            },
        }


def fill_quotas(fresh: list[Candidate], kept: dict[str, int], target: int) -> None:
    """In attempt order per label: passed samples are kept until the label has its target
    (`kept` counts the label's kept samples so far); every later passed or rejected one is
    surplus (a sequential loop would not have got that far)."""
    kept = dict(kept)
    for c in fresh:
        if c.status not in ("pending", "rejected"):
            continue
        if kept[c.label] >= target:
            c.status, c.reason = "surplus", "label already had its samples"
        elif c.status == "pending":
            c.status = "kept"
            kept[c.label] += 1


def select_from_pool(
    candidates: list[Candidate],
    spec: CaseSpec,
    ctx: RunContext,
    *,
    labels: tuple[str, ...],
    seed: int,
) -> None:
    """Keep n per label of the kept candidates with the case's selection strategy; the rest
    become "unselected"."""
    options, n = spec.selection, spec.samples_per_label
    embedder = ctx.embedder(options.encoder)
    train = ctx.data.split(spec.dataset, spec.language, "train")
    gold_examples = sample_per_label(train, spec.generation.demos_per_label or 10, seed=seed)
    pool = [c for c in candidates if c.status == "kept"]
    vectors = embedder.encode([c.text for c in pool])
    gold_vectors = embedder.encode([e.text for e in gold_examples])
    gold_labels = [e.label for e in gold_examples]
    if options.method in POOL_METHODS:
        scores = pool_scores(
            options.method,
            vectors,
            [c.label for c in pool],
            seed=seed,
            gold=gold_vectors,
            gold_labels=gold_labels,
        )
    for label in labels:
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
                    seed=request_seed(seed, "select", label),
                    gold=gold_vectors[mask],
                    metric=options.metric,
                )
            ]
        for row in set(rows.tolist()) - set(picked.tolist()):
            pool[row].status, pool[row].reason = "unselected", f"not picked by {options.method}"
