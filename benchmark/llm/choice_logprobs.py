"""Reading choice log-probabilities off one decoded path (structured-output choice backends).

A server or engine that picks a choice by constrained decoding returns one path: the tokens it
took, each with its log-probability and the top-k alternatives at that step. From that path a
choice's summed token log-probability is known exactly when the choice follows the path up to
some step and its remaining text is one of the alternatives at that step: the chosen choice
itself, and every choice that branches off with a single token (e.g. "yes" vs "no", which differ
in their first token). Other choices are not on the path: they get `UNSCORED` (-inf).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

UNSCORED = float("-inf")


@dataclass(frozen=True)
class PathStep:
    """One decoded token.

    Attributes:
        token: the token's text.
        logprob: its log-probability.
        alternatives: (text, log-probability) of the top-k tokens at this step (may include the
            token itself).
    """

    token: str
    logprob: float
    alternatives: tuple[tuple[str, float], ...] = ()


def score_choices_on_path(choices: Iterable[str], path: Sequence[PathStep]) -> dict[str, float]:
    """Summed token log-probability of each choice that can be read off the path.

    Args:
        choices: the candidate answers.
        path: the decoded tokens, in order.

    Returns:
        `{choice: log-probability}`; choices that leave the path by more than one token get
        `UNSCORED`.
    """
    return {choice: _score(choice, path) for choice in choices}


def _score(choice: str, path: Sequence[PathStep]) -> float:
    prefix, total = "", 0.0
    for step in path:
        rest = choice[len(prefix) :]
        options = dict(step.alternatives)
        options.setdefault(step.token, step.logprob)
        if rest in options:
            return total + options[rest]
        if not (step.token and rest.startswith(step.token)):
            break
        prefix += step.token
        total += step.logprob
    return UNSCORED


def best_scored(choices: Sequence[str], logprobs: dict[str, float]) -> str | None:
    """The highest-scoring choice (ties to the first), or None when none was scored.

    Args:
        choices: the candidate answers, in request order.
        logprobs: their scores.

    Returns:
        The best choice, or None.
    """
    scored = [c for c in choices if logprobs[c] != UNSCORED]
    if not scored:
        return None
    return max(scored, key=lambda c: (logprobs[c], -choices.index(c)))
