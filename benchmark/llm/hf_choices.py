"""Choice scoring helpers of the transformers backend: each choice's tokens, batches that hold
at most `batch_size` choices, and the summed log-probabilities read off the logits."""

from __future__ import annotations

from collections.abc import Iterator

from benchmark.llm.backend import ChoiceRequest, ChoiceResponse

# (request index, prompt ids, the ids of each choice)
ChoiceItem = tuple[int, list[int], list[list[int]]]


def choice_ids(tokenizer, choice: str) -> list[int]:
    """The choice's tokens as they follow the prompt (no special tokens)."""
    ids = list(tokenizer(choice, add_special_tokens=False)["input_ids"])
    if not ids:
        raise ValueError(f"choice {choice!r} encodes to no tokens")
    return ids


def choice_batches(
    items: list[ChoiceItem], batch_size: int, show_progress: bool
) -> Iterator[list[ChoiceItem]]:
    """Length-sorted batches holding at most `batch_size` choices (at least one request)."""
    from tqdm.auto import tqdm

    order = sorted(items, key=lambda item: len(item[1]), reverse=True)
    with tqdm(total=len(order), desc="choose", unit="req", disable=not show_progress) as bar:
        batch: list = []
        for item in order:
            if batch and sum(len(b[2]) for b in batch) + len(item[2]) > batch_size:
                yield batch
                bar.update(len(batch))
                batch = []
            batch.append(item)
        if batch:
            yield batch
            bar.update(len(batch))


def summed_logprobs(first, rest, owner: list[int], flat: list[list[int]]) -> list[float]:
    """Each choice's summed log-probability.

    Args:
        first: (requests, vocab) log-probabilities of the token after each prompt.
        rest: (choices, width - 1, vocab) log-probabilities after each choice token but the
            last; None when every choice is one token.
        owner: the request row of each choice.
        flat: every choice's token ids, in `rest`'s row order.
    """
    import torch

    sums = []
    for row, c in enumerate(flat):
        total = float(first[owner[row], c[0]])
        if len(c) > 1 and rest is not None:
            target = torch.tensor(c[1:], device=rest.device).unsqueeze(-1)
            total += float(rest[row, : len(c) - 1, :].gather(-1, target).sum())
        sums.append(total)
    return sums


def per_request(sums: list[float], batch: list[ChoiceItem]) -> list[list[float]]:
    """The flat choice scores split back into one list per request of the batch."""
    out, k = [], 0
    for _, _, choices in batch:
        out.append(sums[k : k + len(choices)])
        k += len(choices)
    return out


def best_choice(request: ChoiceRequest, logprobs: dict[str, float]) -> ChoiceResponse:
    """The argmax choice (ties to the first) with every choice's log-probability."""
    best = max(request.choices, key=lambda c: (logprobs[c], -request.choices.index(c)))
    return ChoiceResponse(best, logprobs)
