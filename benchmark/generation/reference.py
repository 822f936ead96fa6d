"""The study's reference generation loop, kept as the baseline for throughput and equivalence.

Per label, one prompt per call until the label has its samples (or `max_attempts` prompts),
and one revision call per candidate (plus one reason call per rejection), the way the study's
code drove vLLM. It uses a `CaseGenerator`'s prompts, seeds, parser and revision, so it keeps
exactly the samples the batched scheduler keeps; only the order and batching of calls differ.
"""

from __future__ import annotations

from benchmark.generation.pipeline import CaseGenerator, request_seed


def run_reference_loop(gen: CaseGenerator) -> None:
    """Fill `gen.candidates` one call at a time (no batching)."""
    from benchmark.llm.backend import ChatRequest, SamplingParams

    g = gen.gen
    for label in gen.labels:
        messages = gen._messages(label)
        while gen.kept(label) < gen.target and gen.attempts[label] < g["max_attempts"]:
            attempt = gen.attempts[label]
            gen.attempts[label] += 1
            sampling = SamplingParams(
                temperature=g["temperature"],
                top_p=g["top_p"],
                repetition_penalty=g["repetition_penalty"],
                max_new_tokens=g["max_new_tokens"],
                seed=request_seed(gen.seed, gen.spec.language, label, attempt),
            )
            reply = gen.backend.generate([ChatRequest(messages, sampling)])[0]
            gen._count(reply)
            for cand in gen._parse(label, reply, attempt):
                if cand.status == "pending" and gen.kept(label) < gen.target:
                    if gen.strategy.revision:
                        gen._revise([cand])
                        if cand.status == "rejected":
                            gen._explain([cand])
                    if cand.status == "pending":
                        cand.status = "kept"
                elif cand.status == "pending":
                    cand.status, cand.reason = "surplus", "label already had its samples"
                gen.candidates.append(cand)
