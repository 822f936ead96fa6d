"""What `OpenAIBackend.choose` asks the server for, and how it reads a choice off the answers.

See the `choice_mode`s in `benchmark.llm.openai_backend`. In "structured", "guided" and
"logprobs" one request per chat decodes greedily and the choices are scored on the decoded path
(`benchmark.llm.choice_logprobs`); in "score" one request per choice reads the exact summed
log-probability of the choice from the prompt log-probabilities (vLLM).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from benchmark.llm.backend import ChoiceRequest, ChoiceResponse, Messages
from benchmark.llm.choice_logprobs import PathStep, best_scored, score_choices_on_path
from benchmark.llm.openai_http import ServerError

ChoiceMode = Literal["structured", "guided", "logprobs", "score"]
CHOICE_MODES = ("structured", "guided", "logprobs", "score")
# A "score" request: the chat continued by the choice, scored, not extended.
SCORE_FIELDS: dict[str, Any] = {
    "max_tokens": 1,
    "temperature": 0.0,
    "prompt_logprobs": 0,
    "add_generation_prompt": False,
    "continue_final_message": True,
}


def decode_fields(mode: ChoiceMode, choices: tuple[str, ...], top_logprobs: int) -> dict[str, Any]:
    """Request fields of a greedy answer within (or, in "logprobs", near) the choices."""
    fields: dict[str, Any] = {
        "temperature": 0.0,
        "max_tokens": max(len(c.encode()) for c in choices) + 2,
        "logprobs": True,
        "top_logprobs": top_logprobs,
        "n": 1,
    }
    if mode == "structured":
        fields["structured_outputs"] = {"choice": list(choices)}
    elif mode == "guided":
        fields["guided_choice"] = list(choices)
    return fields


def decoded_choice(
    mode: ChoiceMode, top_logprobs: int, index: int, request: ChoiceRequest, choice: dict
) -> ChoiceResponse:
    """The choice of request `index` read off its answer's first choice (text and logprobs)."""
    text = (choice.get("message") or {}).get("content") or ""
    content = (choice.get("logprobs") or {}).get("content") or []
    path = [
        PathStep(
            str(step.get("token", "")),
            float(step.get("logprob", float("-inf"))),
            tuple(
                (str(t.get("token", "")), float(t["logprob"]))
                for t in step.get("top_logprobs") or []
            ),
        )
        for step in content
    ]
    logprobs = score_choices_on_path(request.choices, path)
    if mode != "logprobs":
        if text not in request.choices:
            hint = (
                " (vLLM >= 0.12 ignores guided_choice: use choice_mode: structured)"
                if mode == "guided"
                else " (does this server support structured outputs? try choice_mode: "
                "guided on vLLM < 0.10.2, or logprobs)"
            )
            raise ServerError(
                f"request {index}: the server answered {text!r}, not one of "
                f"{list(request.choices)}{hint}"
            )
        return ChoiceResponse(text, logprobs)
    best = text if text in request.choices else best_scored(request.choices, logprobs)
    if best is None:
        raise ServerError(
            f"request {index}: no choice of {list(request.choices)} can be read off the "
            f"answer {text!r} and its top-{top_logprobs} log-probabilities"
        )
    return ChoiceResponse(best, logprobs)


def scored_chats(requests: Sequence[ChoiceRequest]) -> list[tuple[int, str, Messages]]:
    """(request index, choice, the chat continued by the choice) for every choice."""
    return [
        (i, choice, (*request.messages, ("assistant", choice)))
        for i, request in enumerate(requests)
        for choice in request.choices
    ]


class ScoreTally:
    """Collects the "score" answers of each request's choices, in any order."""

    def __init__(self, requests: Sequence[ChoiceRequest]) -> None:
        self.requests = requests
        self.scores: list[dict[str, float]] = [{} for _ in requests]

    def add(self, i: int, choice: str, answer: dict[str, Any], job: int) -> ChoiceResponse | None:
        """Record one choice's answer; request `i`'s response once all its choices are in
        (argmax, ties to the first choice)."""
        request = self.requests[i]
        self.scores[i][choice] = suffix_logprob(answer.get("prompt_logprobs"), choice, job)
        if len(self.scores[i]) < len(request.choices):
            return None
        ordered = {c: self.scores[i][c] for c in request.choices}
        best = max(request.choices, key=lambda c: (ordered[c], -request.choices.index(c)))
        return ChoiceResponse(best, ordered)


def suffix_logprob(prompt_logprobs: list | None, choice: str, job: int) -> float:
    """Summed log-probability of the prompt's last tokens that spell `choice` (vLLM format)."""
    if not prompt_logprobs:
        raise ServerError(
            f"choose request {job}: no prompt_logprobs in the answer; choice_mode: score needs a "
            "vLLM server"
        )
    text, total = "", 0.0
    for entry in reversed(prompt_logprobs):
        if not entry:
            break
        token = next(iter(entry.values()))  # the prompt's own token comes first
        text = (token.get("decoded_token") or "") + text
        total += float(token["logprob"])
        if text == choice:
            return total
        if len(text) >= len(choice) or not choice.endswith(text):
            break
    raise ServerError(f"choose request {job}: the prompt does not end with the choice {choice!r}")
