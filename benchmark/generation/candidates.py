"""What generation hands from step to step: a parsed sample and what became of it, the run's
counters, and the seed of each request."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any


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

    def count(self, reply) -> None:
        """Adds one generation reply."""
        self.requests += 1
        self.cached_requests += int(reply.cached)
        self.prompt_tokens += reply.n_prompt_tokens
        self.completion_tokens += reply.n_completion_tokens


def request_seed(*parts: Any) -> int:
    """A stable 31-bit seed from any parts (label, round, index ...)."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()
    return int(digest[:8], 16) & 0x7FFFFFFF
