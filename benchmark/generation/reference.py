"""The study's reference generation loop, kept as the baseline for throughput and equivalence.

Per label, one prompt per call until the label has its samples (or `max_attempts` prompts),
and one revision call per candidate (plus one reason call per rejection), the way the study's
code drove vLLM. It uses a `CaseGenerator`'s prompt builder, parser, gates, reviser and quota
rule, so it keeps exactly the samples the batched scheduler keeps; only the order and batching
of calls differ.
"""

from __future__ import annotations

from benchmark.generation.pipeline import CaseGenerator


def run_reference_loop(gen: CaseGenerator) -> None:
    """Fill `gen.candidates` one call at a time (no batching)."""
    for label in gen.labels:
        messages = gen.prompts.messages(label)
        while gen.short(label):
            attempt = gen.attempts[label]
            reply = gen.backend.generate([gen.next_attempt(label, messages)])[0]
            for cand in gen.take_reply(label, reply, attempt):
                still_short = gen.kept(label) < gen.target
                if cand.status == "pending" and still_short and gen.strategy.revision:
                    gen.reviser.revise([cand])
                    gen.reviser.explain([cand] if cand.status == "rejected" else [])
                gen.fill_quotas([cand])
                gen.candidates.append(cand)
