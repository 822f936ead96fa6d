"""Next-token choice of the transformers backend: repetition penalty, then greedy or
temperature + top-p sampling, each request drawing from its own seeded generator (see
`benchmark.llm.hf_backend` for what that makes reproducible)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from benchmark.llm.backend import SamplingParams

_TOP_K_FIRST = 64


def next_tokens(logits, history, params: Sequence[SamplingParams], generators: Sequence[Any]):
    """Pick each row's next token: repetition penalty, then greedy or temperature + top-p.

    Args:
        logits: (rows, vocab) next-token logits.
        history: (rows, length) token ids already in each row's prompt or output (padding
            replaced by a real token of the row).
        params: each row's sampling parameters.
        generators: each row's `torch.Generator` on the logits' device.

    Returns:
        (rows,) long tensor of token ids.
    """
    import torch

    logits = logits.float()
    penalty = torch.tensor([p.repetition_penalty for p in params], device=logits.device)
    penalty = penalty.unsqueeze(-1)
    previous = logits.gather(1, history)
    logits.scatter_(1, history, torch.where(previous > 0, previous / penalty, previous * penalty))
    chosen = logits.argmax(-1)
    sampled = [k for k, p in enumerate(params) if not p.greedy]
    if sampled:
        rows = torch.tensor(sampled, device=logits.device)
        noise = torch.empty(len(sampled), logits.shape[-1], device=logits.device)
        for j, k in enumerate(sampled):
            noise[j] = _exponential_noise(logits, generators[k])
        chosen[rows] = _sample_top_p(logits[rows], [params[k] for k in sampled], noise)
    return chosen


def _exponential_noise(logits, generator):
    """One Exp(1) draw per vocabulary entry from a row's own generator."""
    import torch

    noise = torch.empty(logits.shape[-1], device=generator.device, dtype=torch.float32)
    return noise.exponential_(generator=generator).to(logits.device)


def _sample_top_p(logits, params: Sequence[SamplingParams], noise):
    """Sample from the temperature-scaled, top-p-truncated distribution by an exponential race.

    A token wins when its probability divided by its Exp(1) noise is the largest: an exact
    sample, and far less sensitive to floating-point noise in the probabilities than inverse-CDF
    sampling (a flip needs two racers within ~1e-6, not a draw near a CDF step).
    """
    import torch

    device = logits.device
    temperature = torch.tensor([p.temperature for p in params], device=device).unsqueeze(-1)
    top_p = torch.tensor([p.top_p for p in params], device=device).unsqueeze(-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    threshold = _nucleus_threshold(probs, top_p)
    race = torch.where(probs >= threshold, probs / noise, torch.full_like(probs, -1.0))
    return race.argmax(-1)


def _nucleus_threshold(probs, top_p):
    """Smallest probability inside each row's top-p nucleus, shape (rows, 1).

    The nucleus is looked for among the 64 most likely tokens first; rows with a flatter
    distribution are sorted in full. Either way each row's result depends on that row alone.
    """
    ranked = probs.topk(min(_TOP_K_FIRST, probs.shape[-1]), dim=-1).values
    threshold = _threshold_in(ranked, top_p)
    flat = (ranked.sum(-1, keepdim=True) < top_p).squeeze(-1)
    if bool(flat.any()):
        rows = flat.nonzero().squeeze(-1)
        full = probs[rows].sort(dim=-1, descending=True).values
        threshold[rows] = _threshold_in(full, top_p[rows])
    return threshold


def _threshold_in(ranked, top_p):
    """Given probabilities in decreasing order: the last one needed to reach `top_p`."""
    inside = ((ranked.cumsum(-1) - ranked) < top_p).sum(-1, keepdim=True)
    return ranked.gather(-1, (inside - 1).clamp(min=0))


def request_generator(seed: int | None, device):
    """The request's own `torch.Generator`, seeded by it (a fresh random seed when None)."""
    import torch

    generator = torch.Generator(device=device)
    return generator.manual_seed(seed if seed is not None else secrets.randbits(63))
