"""Self-revision: a yes/no check per candidate and, for a rejection, the model's reason."""

from __future__ import annotations

from benchmark import progress
from benchmark.generation.candidates import Candidate, GenerationStats
from benchmark.generation.prompts import revision_prompt, revision_reason_messages
from benchmark.llm.backend import ChatRequest, ChoiceRequest, SamplingParams


class Reviser:
    """Asks the revision model about candidates, in batches.

    Args:
        backend: the revision model's backend.
        style: its prompt style ("chat" or "base": a base model gives no reasons).
        descriptions: the description each revision prompt shows per label.
        language_name: the case language's name.
        stats: the run's counters (revision checks are added there).
        reasons: ask why each rejected candidate was rejected (`explain`); False skips it.
    """

    def __init__(
        self,
        backend,
        *,
        style: str,
        descriptions: dict[str, str | None],
        language_name: str,
        stats: GenerationStats,
        reasons: bool = True,
    ) -> None:
        self.backend, self.style, self.descriptions = backend, style, descriptions
        self.language_name, self.stats, self.reasons = language_name, stats, reasons

    def revise(self, pending: list[Candidate]) -> None:
        """One yes/no check per candidate, batched: "pending" (accepted) or "rejected"."""
        if not pending:
            return
        prompts = [revision_prompt(self.style, **self.fields(c)) for c in pending]
        with progress.counter("revision checks", len(pending), unit="samples") as done:
            choices = self.backend.choose(
                [ChoiceRequest(m, yes_no) for m, yes_no in prompts], on_result=done
            )
        self.stats.revision_checks += len(pending)
        for cand, answer, (_, (yes, no)) in zip(pending, choices, prompts, strict=True):
            margin = answer.logprobs[yes] - answer.logprobs[no]
            verdict = "accepted" if answer.choice == yes else "rejected"
            cand.status = "pending" if answer.choice == yes else "rejected"
            cand.reason = f"{verdict} (log-odds yes-no {margin:+.2f})"

    def explain(self, rejected: list[Candidate]) -> None:
        """Ask the model why it rejected each candidate (greedy, batched); appended to reason."""
        if not rejected or self.style == "base" or not self.reasons:
            return  # a base model answers no follow-up question; reasons may be switched off
        sampling = SamplingParams(temperature=0.0, max_new_tokens=48, seed=0)
        requests = [
            ChatRequest(revision_reason_messages(**self.fields(c), verdict="no"), sampling)
            for c in rejected
        ]
        with progress.counter("reasons for rejections", len(requests), unit="samples") as done:
            replies = self.backend.generate(requests, on_result=done)
        for cand, reply in zip(rejected, replies, strict=True):
            cand.reason += f": {' '.join(reply.text.split())[:300]}"

    def fields(self, c: Candidate) -> dict[str, str]:
        """What a revision prompt about `c` shows."""
        return {
            "text": c.text,
            "label": c.label,
            "description": self.descriptions[c.label],
            "language_name": self.language_name,
        }
