"""Batched chat generation and choice scoring with plain transformers (CPU or one GPU).

Generation runs its own decoding loop over `model(...)` with a KV cache instead of
`model.generate`, so that every request samples from its own `torch.Generator`, seeded by the
request's seed. Reproducibility, exactly:

* Greedy (temperature 0) is deterministic, and the same request gives the same text in any
  batch on the same machine and software, up to floating-point differences between batch shapes
  (left padding and batch size change the kernels' summation order by ~1e-6 in the logits): a
  token flips only where two candidates tie to that precision. Tests check batch independence.
* Seeded sampling draws one Exp(1) number per vocabulary entry per step from the request's own
  generator (an exponential race, equivalent to Gumbel-max), so the random stream does not depend
  on the other requests of the batch, and a flip needs two racers within ~1e-6 of each other;
  the same caveat applies. Across devices (CPU vs CUDA) the random streams differ.
* Unseeded sampling (seed None) uses a fresh random seed per request: not reproducible.

Requests of a batch that share their prompt (the scheduler sends each label's prompt several
times with different seeds) share one prefill: the prompt runs once and each request gets its
own copy of the KV cache. Batches are sorted by prompt length and then content, so such
requests land side by side.

On CPU this loop runs as fast as `model.generate` (SmolLM2-135M: ~10 tok/s single, ~45 tok/s at
batch 16 on 2 cores).

The parts: `benchmark.llm.hf_loading` (tokenizer, configs, weights), `benchmark.llm.hf_sampling`
(the next token), `benchmark.llm.hf_batching` (batches, padding, KV cache) and
`benchmark.llm.hf_choices` (choice scoring helpers).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmark.llm.backend import (
    ChatBackend,
    ChatCallback,
    ChatRequest,
    ChatResponse,
    ChoiceCallback,
    ChoiceRequest,
    ChoiceResponse,
    FinishReason,
    LocalTemplateMixin,
    SamplingParams,
)
from benchmark.llm.hf_batching import (
    left_pad,
    new_cache,
    right_pad,
    select_cache_rows,
    sorted_batches,
)
from benchmark.llm.hf_choices import (
    ChoiceItem,
    best_choice,
    choice_batches,
    choice_ids,
    per_request,
    summed_logprobs,
)
from benchmark.llm.hf_loading import (
    END_OF_TURN_TOKENS,
    load_light,
    load_weights,
    pad_id,
    pick_dtype,
    stop_token_ids,
)
from benchmark.llm.hf_sampling import next_tokens, request_generator
from benchmark.llm.models import ResolvedModel, resolve_model
from benchmark.paths import default_threads

__all__ = ["END_OF_TURN_TOKENS", "TransformersBackend", "next_tokens"]


@dataclass
class _Row:
    """Decoding state of one request inside a batch."""

    index: int
    prompt: list[int]
    params: SamplingParams
    budget: int
    generated: list[int]
    finish: FinishReason | None = None
    stopped_at: int | None = None  # where a stop string starts in the decoded text


class TransformersBackend(LocalTemplateMixin, ChatBackend):
    """A transformers causal LM behind the `ChatBackend` interface.

    Args:
        model_ref: alias, directory, `.gguf` file or hub id (see `resolve_model`).
        device: "cpu", "cuda", "cuda:1"...; default: cuda when available, else cpu.
        dtype: torch dtype or its name; default float32 on CPU, bfloat16 on GPU.
        batch_size: requests decoded together.
        max_model_len: prompt plus completion limit in tokens.
        progress: show a tqdm progress bar.
        model_kwargs: extra `from_pretrained` options (e.g. `device_map`, `trust_remote_code`).
        num_threads: torch CPU threads (process-wide); default: usable cores divided among
            pytest-xdist workers. On a busy CPU, 1 thread can be several times faster than
            oversubscribed OpenMP threads.
    """

    def __init__(
        self,
        model_ref: str,
        *,
        device: str | None = None,
        dtype: Any = None,
        batch_size: int = 16,
        max_model_len: int = 4096,
        progress: bool = True,
        model_kwargs: dict[str, Any] | None = None,
        num_threads: int | None = None,
    ) -> None:
        import torch

        threads = num_threads or default_threads()
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.resolved: ResolvedModel = resolve_model(model_ref)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.dtype = pick_dtype(dtype, self.device)
        self.batch_size = batch_size
        self.progress = progress
        self.decoded_tokens = 0  # read by the benchmark's progress heartbeat
        self._model_kwargs = model_kwargs
        self._model = None
        self.tokenizer, config, generation_config = load_light(self.resolved)
        limit = getattr(config, "max_position_embeddings", None) or max_model_len
        self._max_model_len = min(max_model_len, int(limit))
        self.stop_ids = stop_token_ids(self.tokenizer, generation_config)
        self.pad_id = pad_id(self.tokenizer, self.stop_ids)

    @property
    def model(self):
        """The weights, loaded on first use: a run served from the response cache never
        loads them (only the tokenizer, to count prompt tokens)."""
        if self._model is None:
            self._model = load_weights(self.resolved, self.device, self.dtype, self._model_kwargs)
            params = inspect.signature(self._model.forward).parameters
            self._cache_kwarg = "cache" if "cache" in params else "past_key_values"
            self._keeps_logits = "logits_to_keep" in params
        return self._model

    def generate(
        self, requests: Sequence[ChatRequest], *, on_result: ChatCallback | None = None
    ) -> list[ChatResponse]:
        """Complete every request, in length-sorted batches.

        Args:
            requests: the chats and their sampling parameters.
            on_result: called with (index, response) as each batch finishes.

        Returns:
            One response per request, in request order.
        """
        rows = [self._new_row(i, request) for i, request in enumerate(requests)]
        results: list[ChatResponse | None] = [None] * len(rows)
        for batch in sorted_batches(rows, self.batch_size, "generate", _by_prompt, self.progress):
            self._decode(batch)
            for row in batch:
                results[row.index] = self._response(row)
                if on_result is not None:
                    on_result(row.index, results[row.index])
        return [r for r in results if r is not None]

    def _new_row(self, index: int, request: ChatRequest) -> _Row:
        if request.sampling.dry_multiplier:
            raise ValueError("the transformers backend has no DRY sampler (dry_multiplier)")
        prompt = self._checked_prompt(index, request.messages)
        budget = min(request.sampling.max_new_tokens, self.max_model_len - len(prompt))
        return _Row(index, prompt, request.sampling, budget, [])

    def _response(self, row: _Row) -> ChatResponse:
        stopped_by_token = row.finish == "stop" and row.stopped_at is None
        ids = row.generated[:-1] if stopped_by_token else row.generated
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        if row.stopped_at is not None:
            text = text[: row.stopped_at]
        return ChatResponse(text, len(row.prompt), len(row.generated), row.finish or "length")

    def _decode(self, rows: list[_Row]) -> None:
        """Decode one batch in place: prefill, then one token per step for live rows."""
        import torch

        generators = [request_generator(row.params.seed, self.device) for row in rows]
        cache = new_cache(self.model)
        live = list(range(len(rows)))
        with torch.inference_mode():
            logits, mask, positions, history = self._prefill(rows, cache)
            while live:
                chosen = next_tokens(
                    logits, history, [rows[i].params for i in live], [generators[i] for i in live]
                )
                keep = self._advance([rows[i] for i in live], chosen.tolist())
                if not keep:
                    break
                index = torch.tensor(keep, device=self.device)
                live = [live[k] for k in keep]
                ids = chosen[index].unsqueeze(-1)
                history = torch.cat([history[index], ids], dim=-1)
                mask = torch.cat([mask[index], torch.ones_like(ids)], dim=-1)
                positions = positions[index, -1:] + 1
                if len(keep) < len(chosen):
                    select_cache_rows(cache, index)
                logits = self._forward(ids, mask, positions, cache, keep=1)[:, -1, :]

    def _prefill(self, rows: list[_Row], cache):
        """Run each distinct prompt of the batch once (requests that differ only in their seed
        share it), then give every row its own copy of the cache. Returns the rows' last
        logits, attention mask, positions and token history (for the repetition penalty)."""
        import torch

        prompts = [tuple(row.prompt) for row in rows]
        slot = {prompt: k for k, prompt in enumerate(dict.fromkeys(prompts))}
        ids, mask = left_pad([list(prompt) for prompt in slot], self.pad_id, self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = self._forward(ids, mask, positions, cache, keep=1)[:, -1, :]
        if len(slot) < len(rows):
            expand = torch.tensor([slot[prompt] for prompt in prompts], device=self.device)
            select_cache_rows(cache, expand)
            logits, ids, mask, positions = (
                logits[expand],
                ids[expand],
                mask[expand],
                positions[expand],
            )
        history = torch.where(mask.bool(), ids, ids[:, -1:])
        return logits, mask, positions, history

    def _advance(self, live_rows: list[_Row], tokens: list[int]) -> list[int]:
        """Append each live row's token; return the positions (in `live_rows`) still running."""
        keep = []
        self.decoded_tokens += len(tokens)
        for k, (row, token) in enumerate(zip(live_rows, tokens, strict=True)):
            row.generated.append(token)
            if token in self.stop_ids or row.params.stop and self._stop_string(row):
                row.finish = "stop"
            elif len(row.generated) >= row.budget:
                row.finish = "length"
            else:
                keep.append(k)
        return keep

    def _stop_string(self, row: _Row) -> bool:
        """Whether the decoded output now contains a stop string (remembers where)."""
        text = self.tokenizer.decode(row.generated, skip_special_tokens=True)
        found = [i for i in (text.find(s) for s in row.params.stop) if i >= 0]
        if found:
            row.stopped_at = min(found)
        return bool(found)

    def choose(
        self, requests: Sequence[ChoiceRequest], *, on_result: ChoiceCallback | None = None
    ) -> list[ChoiceResponse]:
        """Score each choice by the summed log-probability of its tokens after the chat prompt.

        The prompt is run once per request; its KV cache is then shared by all the request's
        choices, so a 10-way choice costs one prompt pass, not ten.

        Args:
            requests: the chats and their choices.
            on_result: called with (index, response) once all choices of a request are scored.

        Returns:
            One response per request (argmax choice, ties to the first), in request order.
        """
        tokens = self.tokenizer
        items = [
            (i, self._checked_prompt(i, r.messages), [choice_ids(tokens, c) for c in r.choices])
            for i, r in enumerate(requests)
        ]
        results: list[ChoiceResponse | None] = [None] * len(requests)
        for batch in choice_batches(items, self.batch_size, self.progress):
            for (i, _, _), scores in zip(batch, self._score(batch), strict=True):
                logprobs = dict(zip(requests[i].choices, scores, strict=True))
                results[i] = best_choice(requests[i], logprobs)
                if on_result is not None:
                    on_result(i, results[i])
        return [r for r in results if r is not None]

    def _score(self, batch: list[ChoiceItem]) -> list[list[float]]:
        """Summed log-probabilities of every choice of each request.

        One prefill pass over the prompts, then one pass over all choices (right-padded)
        on top of the prompts' KV cache, repeated once per choice.
        """
        import torch

        ids, mask = left_pad([prompt for _, prompt, _ in batch], self.pad_id, self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = new_cache(self.model)
        owner = [row for row, (_, _, choices) in enumerate(batch) for _ in choices]
        flat = [c for _, _, choices in batch for c in choices]
        width = max(len(c) for c in flat)
        with torch.inference_mode():
            first = self._forward(ids, mask, positions, cache, keep=1)[:, -1, :]
            first = torch.log_softmax(first.float(), dim=-1)
            index = torch.tensor(owner, device=self.device)
            select_cache_rows(cache, index)
            choice_tokens, choice_mask = right_pad(flat, self.pad_id, self.device)
            start = mask.sum(-1)[index].unsqueeze(-1)
            steps = start + torch.arange(width, device=self.device).unsqueeze(0)
            full_mask = torch.cat([mask[index], choice_mask], dim=-1)
            rest = None
            if width > 1:
                logits = self._forward(choice_tokens, full_mask, steps, cache, keep=width)
                rest = torch.log_softmax(logits[:, : width - 1, :].float(), dim=-1)
        return per_request(summed_logprobs(first, rest, owner, flat), batch)

    def _forward(self, ids, mask, positions, cache, *, keep: int):
        kwargs: dict[str, Any] = {"attention_mask": mask, "position_ids": positions}
        if cache is not None:
            kwargs[self._cache_kwarg] = cache
            kwargs["use_cache"] = True
        else:
            kwargs["use_cache"] = False
        if self._keeps_logits:
            kwargs["logits_to_keep"] = keep
        return self.model(input_ids=ids, **kwargs).logits

    def close(self) -> None:
        """Drop the model so its memory can be freed (it reloads on next use)."""
        self._model = None


def _by_prompt(row: _Row) -> tuple[int, list[int]]:
    """Batch order: by prompt length, then content (equal prompts side by side)."""
    return len(row.prompt), row.prompt
