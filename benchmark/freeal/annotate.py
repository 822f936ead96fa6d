"""LLM annotation of an unlabeled pool with demonstrations retrieved by embedding similarity."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchmark import progress
from benchmark.generation.prompts import annotation_messages
from benchmark.llm.backend import ChoiceRequest


@dataclass(frozen=True)
class Annotation:
    """The LLM's label for one text (None = abstained) and its log-prob margin."""

    label: str | None
    margin: float


def retrieve(query: np.ndarray, pool: np.ndarray, m: int) -> np.ndarray:
    """Indices of the m most cosine-similar pool rows for each query row (unit vectors)."""
    if not len(pool) or m <= 0:
        return np.empty((len(query), 0), dtype=int)
    m = min(m, len(pool))
    sims = query @ pool.T
    top = np.argpartition(-sims, m - 1, axis=1)[:, :m]
    order = np.take_along_axis(sims, top, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(top, order, axis=1)


def annotate(
    texts: Sequence[str],
    *,
    labels: Sequence[str],
    demos: Sequence[tuple[str, str]],
    embed,
    backend,
    language_name: str,
    m: int = 10,
    abstain_margin: float = 0.0,
    calibration: str = "none",
) -> list[Annotation]:
    """Label every text by a constrained choice over `labels` (one batched backend call).

    Args:
        texts: the unlabeled pool.
        labels: the label set (the answers the backend chooses between).
        demos: (text, label) demonstrations to retrieve from (gold, generated, or none).
        embed: `texts -> unit vectors` (e.g. `Embedder.encode`).
        backend: a chat backend with `choose`.
        language_name: the texts' language, for the prompt.
        m: demonstrations per text.
        abstain_margin: abstain when the best label's log-prob beats the runner-up by less.

    Returns:
        One `Annotation` per text.
    """
    shown = retrieve(embed(list(texts)), embed([t for t, _ in demos]), m) if demos else None
    per_text = [
        [demos[j] for j in shown[i]] if shown is not None else [] for i in range(len(texts))
    ]
    return annotate_with_demos(
        texts,
        per_text,
        labels=labels,
        backend=backend,
        language_name=language_name,
        abstain_margin=abstain_margin,
        calibration=calibration,
    )


def batch_calibrated(logprobs: np.ndarray) -> np.ndarray:
    """Log of each row's label distribution divided by the batch's mean distribution."""
    shifted = logprobs - logprobs.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    prior = np.exp(log_p).mean(axis=0)
    return log_p - np.log(prior + 1e-12)


def annotate_with_demos(
    texts: Sequence[str],
    per_text_demos: Sequence[Sequence[tuple[str, str]]],
    *,
    labels: Sequence[str],
    backend,
    language_name: str,
    abstain_margin: float = 0.0,
    calibration: str = "none",
) -> list[Annotation]:
    """Label every text by a constrained choice, each with its own demonstrations.

    `calibration="batch"` divides each text's label probabilities by their mean over the
    batch (batch calibration, Zhou et al. 2024): it removes the label prior a small model puts
    on short or early labels, at no extra LLM call.

    A text whose prompt is too long for the model drops demonstrations (from the least
    similar, i.e. the end) until it fits; one that cannot fit even without demos abstains.
    """

    count = getattr(backend, "count_tokens", None)
    limit = getattr(backend, "max_model_len", None)
    fits = (lambda m: True) if count is None or limit is None else (lambda m: count(m) < limit - 16)  # noqa: E731
    requests, rows = [], []
    for i, (text, chosen) in enumerate(zip(texts, per_text_demos, strict=True)):
        chosen = list(chosen)
        while True:
            messages = annotation_messages(
                text=text, labels=labels, demos=chosen, language_name=language_name
            )
            fitting = fits(messages)
            if fitting or not chosen:
                break
            chosen.pop()
        if fitting:
            requests.append(ChoiceRequest(messages, tuple(labels)))
            rows.append(i)
    out = [Annotation(None, 0.0)] * len(texts)
    with progress.counter("LLM annotation", len(requests), unit="texts") as done:
        replies = backend.choose(requests, on_result=done)
    scores = np.array([[r.logprobs[c] for c in labels] for r in replies], dtype=float)
    if calibration == "batch" and len(scores):
        scores = batch_calibrated(scores)
    for i, row in zip(rows, scores, strict=True):
        order = np.argsort(-row, kind="stable")
        margin = float(row[order[0]] - row[order[1]]) if len(row) > 1 else float("inf")
        out[i] = Annotation(labels[order[0]] if margin >= abstain_margin else None, margin)
    return out
