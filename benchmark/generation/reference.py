"""The study's reference generation loop, kept as the baseline for throughput and equivalence.

Per label, one prompt per call until the label has its samples (or `max_attempts` prompts),
and one revision call per candidate (plus one reason call per rejection), the way the study's
code drove vLLM. It uses a `CaseGenerator`'s prompts, seeds, parser, revision and quota rule, so
it keeps exactly the samples the batched scheduler keeps; only the order and batching of calls
differ.
"""

from __future__ import annotations

from benchmark.generation.pipeline import CaseGenerator


def run_reference_loop(gen: CaseGenerator) -> None:
    """Fill `gen.candidates` one call at a time (no batching)."""
    for label in gen.labels:
        messages = gen._messages(label)
        while (
            gen.kept(label) < gen.target
            and gen.attempts[label] < gen.gen.max_attempts
            and gen.tokens[label] < gen.token_budget
        ):
            attempt = gen.attempts[label]
            reply = gen.backend.generate([gen.next_attempt(label, messages)])[0]
            gen._count(reply)
            gen.tokens[label] += reply.n_completion_tokens
            for cand in gen._parse(label, reply, attempt):
                still_short = gen.kept(label) < gen.target
                if cand.status == "pending" and still_short and gen.strategy.revision:
                    gen._revise([cand])
                    gen._explain([cand] if cand.status == "rejected" else [])
                gen._fill_quotas([cand])
                gen.candidates.append(cand)
