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
"""

from __future__ import annotations

import inspect
import secrets
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
    ModelUnavailableError,
    SamplingParams,
)
from benchmark.llm.models import ResolvedModel, resolve_model
from benchmark.paths import default_threads

_TOP_K_FIRST = 64
END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>")


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
        self.dtype = _pick_dtype(dtype, self.device)
        self.batch_size = batch_size
        self.progress = progress
        self.decoded_tokens = 0  # read by the benchmark's progress heartbeat
        self._model_kwargs = model_kwargs
        self._model = None
        self.tokenizer, config, generation_config = _load_light(self.resolved)
        limit = getattr(config, "max_position_embeddings", None) or max_model_len
        self._max_model_len = min(max_model_len, int(limit))
        self.stop_ids = _stop_token_ids(self.tokenizer, generation_config)
        self.pad_id = _pad_id(self.tokenizer, self.stop_ids)

    @property
    def model(self):
        """The weights, loaded on first use: a run served from the response cache never
        loads them (only the tokenizer, to count prompt tokens)."""
        if self._model is None:
            self._model = _load(self.resolved, self.device, self.dtype, self._model_kwargs)
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
        for batch in self._batches(rows, "generate", lambda r: (len(r.prompt), r.prompt)):
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

    def _batches(self, items: list, desc: str, length):
        from tqdm.auto import tqdm

        order = sorted(items, key=length, reverse=True)
        with tqdm(total=len(order), desc=desc, unit="req", disable=not self.progress) as bar:
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                yield batch
                bar.update(len(batch))

    def _decode(self, rows: list[_Row]) -> None:
        """Decode one batch in place: prefill, then one token per step for live rows."""
        import torch

        generators = [_generator(row.params.seed, self.device) for row in rows]
        cache = self._new_cache()
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
                    _select_cache_rows(cache, index)
                logits = self._forward(ids, mask, positions, cache, keep=1)[:, -1, :]

    def _prefill(self, rows: list[_Row], cache):
        """Run each distinct prompt of the batch once (requests that differ only in their seed
        share it), then give every row its own copy of the cache. Returns the rows' last
        logits, attention mask, positions and token history (for the repetition penalty)."""
        import torch

        prompts = [tuple(row.prompt) for row in rows]
        slot = {prompt: k for k, prompt in enumerate(dict.fromkeys(prompts))}
        ids, mask = self._left_pad([list(prompt) for prompt in slot])
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = self._forward(ids, mask, positions, cache, keep=1)[:, -1, :]
        if len(slot) < len(rows):
            expand = torch.tensor([slot[prompt] for prompt in prompts], device=self.device)
            _select_cache_rows(cache, expand)
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
        items = [
            (i, self._checked_prompt(i, r.messages), [self._choice_ids(c) for c in r.choices])
            for i, r in enumerate(requests)
        ]
        results: list[ChoiceResponse | None] = [None] * len(requests)
        for batch in self._choice_batches(items):
            for (i, _, _), scores in zip(batch, self._score(batch), strict=True):
                logprobs = dict(zip(requests[i].choices, scores, strict=True))
                results[i] = _choice_response(requests[i], logprobs)
                if on_result is not None:
                    on_result(i, results[i])
        return [r for r in results if r is not None]

    def _choice_batches(self, items: list):
        """Length-sorted batches holding at most `batch_size` choices (at least one request)."""
        from tqdm.auto import tqdm

        order = sorted(items, key=lambda item: len(item[1]), reverse=True)
        with tqdm(total=len(order), desc="choose", unit="req", disable=not self.progress) as bar:
            batch: list = []
            for item in order:
                if batch and sum(len(b[2]) for b in batch) + len(item[2]) > self.batch_size:
                    yield batch
                    bar.update(len(batch))
                    batch = []
                batch.append(item)
            if batch:
                yield batch
                bar.update(len(batch))

    def _choice_ids(self, choice: str) -> list[int]:
        ids = list(self.tokenizer(choice, add_special_tokens=False)["input_ids"])
        if not ids:
            raise ValueError(f"choice {choice!r} encodes to no tokens")
        return ids

    def _score(self, batch: list[tuple[int, list[int], list[list[int]]]]) -> list[list[float]]:
        """Summed log-probabilities of every choice of each request.

        One prefill pass over the prompts, then one pass over all choices (right-padded)
        on top of the prompts' KV cache, repeated once per choice.
        """
        import torch

        ids, mask = self._left_pad([prompt for _, prompt, _ in batch])
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = self._new_cache()
        owner = [row for row, (_, _, choices) in enumerate(batch) for _ in choices]
        flat = [c for _, _, choices in batch for c in choices]
        width = max(len(c) for c in flat)
        with torch.inference_mode():
            first = self._forward(ids, mask, positions, cache, keep=1)[:, -1, :]
            first = torch.log_softmax(first.float(), dim=-1)
            index = torch.tensor(owner, device=self.device)
            _select_cache_rows(cache, index)
            choice_ids = torch.full((len(flat), width), self.pad_id, dtype=torch.long)
            choice_mask = torch.zeros((len(flat), width), dtype=torch.long)
            for row, c in enumerate(flat):
                choice_ids[row, : len(c)] = torch.tensor(c, dtype=torch.long)
                choice_mask[row, : len(c)] = 1
            choice_ids, choice_mask = choice_ids.to(self.device), choice_mask.to(self.device)
            start = mask.sum(-1)[index].unsqueeze(-1)
            steps = start + torch.arange(width, device=self.device).unsqueeze(0)
            full_mask = torch.cat([mask[index], choice_mask], dim=-1)
            rest = None
            if width > 1:
                logits = self._forward(choice_ids, full_mask, steps, cache, keep=width)
                rest = torch.log_softmax(logits[:, : width - 1, :].float(), dim=-1)
        sums = []
        for row, c in enumerate(flat):
            total = float(first[owner[row], c[0]])
            if len(c) > 1 and rest is not None:
                target = torch.tensor(c[1:], device=rest.device).unsqueeze(-1)
                total += float(rest[row, : len(c) - 1, :].gather(-1, target).sum())
            sums.append(total)
        out, k = [], 0
        for _, _, choices in batch:
            out.append(sums[k : k + len(choices)])
            k += len(choices)
        return out

    def _left_pad(self, sequences: list[list[int]]):
        import torch

        width = max(len(s) for s in sequences)
        ids = torch.full((len(sequences), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for row, seq in enumerate(sequences):
            ids[row, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
            mask[row, width - len(seq) :] = 1
        return ids.to(self.device), mask.to(self.device)

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

    def _new_cache(self):
        from transformers import DynamicCache

        try:
            return DynamicCache(config=self.model.config)
        except TypeError:  # transformers < 4.56
            return DynamicCache()

    def close(self) -> None:
        """Drop the model so its memory can be freed (it reloads on next use)."""
        self._model = None


def _choice_response(request: ChoiceRequest, logprobs: dict[str, float]) -> ChoiceResponse:
    best = max(request.choices, key=lambda c: (logprobs[c], -request.choices.index(c)))
    return ChoiceResponse(best, logprobs)


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


def _select_cache_rows(cache, index) -> None:
    if hasattr(cache, "batch_select_indices"):
        cache.batch_select_indices(index)
    else:  # pragma: no cover - old transformers
        cache.reorder_cache(index)


def _generator(seed: int | None, device):
    import torch

    generator = torch.Generator(device=device)
    return generator.manual_seed(seed if seed is not None else secrets.randbits(63))


def _pick_dtype(dtype: Any, device) -> Any:
    import torch

    if dtype is None:
        if device.type == "cpu":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if isinstance(dtype, str):
        if dtype == "auto":
            return "auto"
        return getattr(torch, dtype)
    return dtype


def _unavailable(resolved: ResolvedModel, err: Exception):
    return ModelUnavailableError(
        f"model {resolved.alias or resolved.path_or_id!r} ({resolved.path_or_id}) could not be "
        f"loaded: {err}. Offline, use a packaged model (smollm2-135m, qwen2.5-coder-0.5b) "
        "or a local directory."
    )


def _load_light(resolved: ResolvedModel):
    """Tokenizer, model config and generation config: everything but the weights."""
    from transformers import AutoConfig, AutoTokenizer, GenerationConfig

    source = {"revision": resolved.revision} if resolved.revision else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(resolved.path_or_id, **source)
        config = AutoConfig.from_pretrained(resolved.path_or_id, **source)
    except OSError as err:
        raise _unavailable(resolved, err) from None
    try:
        generation_config = GenerationConfig.from_pretrained(resolved.path_or_id, **source)
    except OSError:  # what the model would derive from its config
        generation_config = GenerationConfig.from_model_config(config)
    return tokenizer, config, generation_config


def _load(resolved: ResolvedModel, device, dtype, model_kwargs: dict[str, Any] | None):
    from transformers import AutoModelForCausalLM

    source = {"revision": resolved.revision} if resolved.revision else {}
    options = {"dtype": dtype, **source, **(model_kwargs or {})}
    try:
        model = AutoModelForCausalLM.from_pretrained(resolved.path_or_id, **options)
    except OSError as err:
        raise _unavailable(resolved, err) from None
    if "device_map" not in options:
        model = model.to(device)
    return model.eval()


def _stop_token_ids(tokenizer, generation_config) -> frozenset[int]:
    """EOS ids of the generation config and tokenizer, plus the chat template's end-of-turn."""
    ids: set[int] = set()
    for source in (generation_config, tokenizer):
        eos = getattr(source, "eos_token_id", None)
        ids.update(eos if isinstance(eos, list | tuple) else [eos] if eos is not None else [])
    added = tokenizer.get_added_vocab()
    ids.update(added[token] for token in END_OF_TURN_TOKENS if token in added)
    return frozenset(int(i) for i in ids)


def _pad_id(tokenizer, stop_ids: frozenset[int]) -> int:
    if tokenizer.pad_token_id is not None:
        return int(tokenizer.pad_token_id)
    return min(stop_ids) if stop_ids else 0
