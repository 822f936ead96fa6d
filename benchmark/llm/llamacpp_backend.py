"""Chat and plain-text generation and exact choice scoring with llama.cpp (`xllamacpp`), on CPU.

The GGUF file is loaded as it is (quantised weights, no conversion): a 4-bit model reads a quarter
of the bytes per token that the fp32 transformers backend reads, and generation on a CPU is bound
by memory bandwidth. `xllamacpp` runs llama.cpp's server in-process (no HTTP): each request is a
`/completion` call with the prompt given as token ids, so the prompt is exactly the one the
transformers backend would build.

* Prompts: the model's own tokenizer and chat template, both read from the GGUF by transformers
  and saved once under the cache (`models/gguf/<sha>/tokenizer`). A one-message chat with the
  role `completion` is a plain-text prompt for a base model (no template; see
  `benchmark.llm.backend.completion_prompt`).
* Batching: `n_parallel` server slots decode together (continuous batching), one worker thread
  per slot. Requests that share a prompt (a label's attempts, a request's choices) run one after
  the other on one slot (`id_slot`), so the prompt is processed once and its KV cache reused.
  Results are reported in the caller's thread as they finish.
* Sampling: llama.cpp's sampler chain with the request's temperature, top-p, repetition penalty
  (over the whole prompt and output), top-k and min-p switched off, and optional DRY
  (`dry_multiplier`). Every request carries its seed: on SmolLM2 the same seeded request gives
  the same text alone or in a batch (tested); on Gemma-3-270M with 2 slots batch-dependent sums
  change the text (two cold smoke runs shared 17 of ~72 samples): the response cache, not the
  seed, makes a rerun exact. The numbers differ from the
  transformers backend's (other kernels, 4-bit weights, another sampler).
* Choices (`choose`): exact. Each choice's own token ids are forced with a token-level grammar
  (`<[id]>` items) and llama.cpp reports the log-probability of each forced token from the raw
  logits (`post_sampling_probs: false`: a softmax over the whole vocabulary before any sampler or
  grammar), so the sum is the choice's log-probability after the prompt, the transformers
  backend's definition (up to the 4-bit weights). One request per choice; the prompt's KV cache
  is reused between the choices of a request.

Options (`backend_options` in a task file): `n_threads` (default 1: on a shared CPU, extra
threads only fight each other), `n_parallel` (slots, default 4), `n_batch` (prompt tokens per
forward pass), `flash_attn`, `server_kwargs` (any other `xllamacpp.CommonParams` field).
`batch_size` and `dtype` are accepted and ignored (the slots batch; the GGUF fixes the types).
"""

from __future__ import annotations

import queue
import secrets
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
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
from benchmark.llm.models import GGUFModel, models_cache_dir, resolve_gguf
from benchmark.paths import build_cached_dir


class LlamaCppBackend(LocalTemplateMixin, ChatBackend):
    """A GGUF model run by llama.cpp behind the `ChatBackend` interface.

    Args:
        model_ref: a packaged alias (`smollm2-135m`, `gemma3-270m`, `qwen2.5-coder-1.5b`...) or a
            `.gguf` file.
        n_threads: CPU threads for generation and prompt processing.
        n_parallel: server slots (requests decoded together).
        max_model_len: prompt plus completion limit per request (clamped to the model's).
        n_batch: prompt tokens per forward pass.
        flash_attn: use flash attention ("auto", "on", "off").
        progress: show a progress bar.
        server_kwargs: other `xllamacpp.CommonParams` attributes, e.g. `{"n_ubatch": 256}`.
        batch_size: ignored (the slots batch).
        dtype: ignored (the GGUF fixes the types).
    """

    def __init__(
        self,
        model_ref: str,
        *,
        n_threads: int = 1,
        n_parallel: int = 4,
        max_model_len: int = 4096,
        n_batch: int = 512,
        flash_attn: str = "auto",
        progress: bool = False,
        server_kwargs: dict[str, Any] | None = None,
        batch_size: int | None = None,
        dtype: str | None = None,
    ) -> None:
        del batch_size, dtype
        if n_threads < 1 or n_parallel < 1:
            raise ValueError(
                f"n_threads and n_parallel must be >= 1, got {n_threads}, {n_parallel}"
            )
        self.gguf: GGUFModel = resolve_gguf(model_ref)
        self.model_ref = model_ref
        self.n_threads, self.n_parallel, self.progress = n_threads, n_parallel, progress
        self.tokenizer = gguf_tokenizer(self.gguf)
        self._max_model_len = min(max_model_len, gguf_context_length(self.gguf.path))
        self._server_options = {
            "n_batch": n_batch,
            "flash_attn": flash_attn,
            **(server_kwargs or {}),
        }
        self._server = None

    def __repr__(self) -> str:
        return (
            f"LlamaCppBackend({self.gguf.alias or str(self.gguf.path)!r}, "
            f"threads={self.n_threads}, parallel={self.n_parallel})"
        )

    @property
    def fingerprint(self) -> str:
        """The GGUF's sha256 (the same id the transformers backend gives the converted model)."""
        return self.gguf.fingerprint

    @property
    def has_chat_template(self) -> bool:
        """Whether the GGUF carries a chat template."""
        return bool(getattr(self.tokenizer, "chat_template", None))

    @property
    def server(self):
        """The in-process llama.cpp server, started on first use (a run served from the
        response cache never loads the weights)."""
        if self._server is None:
            self._server = _start_server(
                self.gguf.path,
                self.n_threads,
                self.n_parallel,
                self._max_model_len,
                self._server_options,
            )
        return self._server

    # -- generation ------------------------------------------------------------------------
    def generate(
        self, requests: Sequence[ChatRequest], *, on_result: ChatCallback | None = None
    ) -> list[ChatResponse]:
        """Complete every request, `n_parallel` at a time.

        Args:
            requests: the chats (or plain-text prompts) and their sampling parameters.
            on_result: called with (index, response), in this thread, as each one finishes.

        Returns:
            One response per request, in request order.
        """
        bodies = []
        for i, request in enumerate(requests):
            prompt = self._checked_prompt(i, request.messages)
            budget = min(request.sampling.max_new_tokens, self.max_model_len - len(prompt))
            bodies.append(_completion_body(prompt, request.sampling, budget))
        results: list[ChatResponse | None] = [None] * len(requests)

        def finish(i: int, answer: dict[str, Any]) -> None:
            results[i] = _chat_response(answer, len(bodies[i]["prompt"]))
            if on_result is not None:
                on_result(i, results[i])

        self._run(bodies, finish, "generate")
        return [r for r in results if r is not None]

    # -- choices ---------------------------------------------------------------------------
    def choose(
        self, requests: Sequence[ChoiceRequest], *, on_result: ChoiceCallback | None = None
    ) -> list[ChoiceResponse]:
        """Score every choice by the exact summed log-probability of its tokens after the prompt.

        Args:
            requests: the chats (or plain-text prompts) and their choices.
            on_result: called with (index, response) once all choices of a request are scored.

        Returns:
            One response per request (argmax, ties to the first choice), in request order.
        """
        bodies, owners = [], []
        for i, request in enumerate(requests):
            choice_ids = [self._choice_ids(c) for c in request.choices]
            prompt = self._checked_prompt(i, request.messages, extra=max(map(len, choice_ids)))
            for choice, ids in zip(request.choices, choice_ids, strict=True):
                bodies.append(_forced_body(prompt, ids))
                owners.append((i, choice, ids))
        scores: list[dict[str, float]] = [{} for _ in requests]
        results: list[ChoiceResponse | None] = [None] * len(requests)

        def finish(job: int, answer: dict[str, Any]) -> None:
            i, choice, ids = owners[job]
            scores[i][choice] = _forced_logprob(answer, ids, choice)
            if len(scores[i]) == len(requests[i].choices):
                ordered = {c: scores[i][c] for c in requests[i].choices}
                best = max(
                    requests[i].choices, key=lambda c: (ordered[c], -requests[i].choices.index(c))
                )
                results[i] = ChoiceResponse(best, ordered)
                if on_result is not None:
                    on_result(i, results[i])

        self._run(bodies, finish, "choose")
        return [r for r in results if r is not None]

    def _choice_ids(self, choice: str) -> list[int]:
        ids = list(self.tokenizer(choice, add_special_tokens=False)["input_ids"])
        if not ids:
            raise ValueError(f"choice {choice!r} encodes to no tokens")
        return ids

    # -- plumbing --------------------------------------------------------------------------
    def _run(
        self, bodies: list[dict[str, Any]], finish: Callable[[int, dict[str, Any]], None], desc: str
    ) -> None:
        """Send every body, one worker thread per slot; `finish(index, answer)` runs in this
        thread (the response cache's sqlite connection belongs to it).

        Requests that share a prompt (one label's attempts, one request's choices) go to the
        same slot one after the other, so the prompt is processed once and its KV cache reused
        (llama.cpp re-evaluates only the last token); a group is split over idle slots only
        when there are fewer groups than slots.
        """
        from tqdm.auto import tqdm

        if not bodies:
            return
        server = self.server
        chunks = _chunks(bodies, self.n_parallel)
        todo: queue.Queue = queue.Queue()
        for chunk in chunks:
            todo.put(chunk)
        results: queue.Queue = queue.Queue()

        def work(slot: int) -> None:
            while True:
                try:
                    chunk = todo.get_nowait()
                except queue.Empty:
                    return
                for i in chunk:
                    try:
                        results.put((i, _complete(server, {**bodies[i], "id_slot": slot}), None))
                    except Exception as err:  # noqa: BLE001 - re-raised in the caller's thread
                        results.put((i, None, err))
                        return

        workers = [
            threading.Thread(target=work, args=(slot,), daemon=True)
            for slot in range(min(self.n_parallel, len(chunks)))
        ]
        for worker in workers:
            worker.start()
        with tqdm(total=len(bodies), desc=desc, unit="req", disable=not self.progress) as bar:
            for _ in range(len(bodies)):
                i, answer, error = results.get()
                if error is not None:
                    while not todo.empty():  # let the other workers stop after their request
                        todo.get_nowait()
                    raise error
                finish(i, answer)
                bar.update(1)
        for worker in workers:
            worker.join()

    def close(self) -> None:
        """Stop the server and free the model (it restarts on next use)."""
        self._server = None


def _chunks(bodies: list[dict[str, Any]], slots: int) -> list[list[int]]:
    """Request indices grouped by prompt (each group in request order), largest first.

    While there are fewer chunks than slots, the largest is halved if that pays: a new slot
    processes the prompt again, which is worth it only when the half it takes over would
    decode more tokens than the prompt has (measured: SmolLM2, 600-token prompts, 3 requests
    per label at 1 thread: splitting made a case 1.5x slower)."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, body in enumerate(bodies):
        groups.setdefault(tuple(body["prompt"]), []).append(i)
    chunks = sorted(groups.values(), key=len, reverse=True)

    def worth_splitting(chunk: list[int]) -> bool:
        body = bodies[chunk[0]]
        return len(chunk) // 2 * body["max_tokens"] > len(body["prompt"])

    while len(chunks) < slots and len(chunks[0]) > 1 and worth_splitting(chunks[0]):
        largest = chunks.pop(0)
        half = (len(largest) + 1) // 2
        chunks = sorted([*chunks, largest[:half], largest[half:]], key=len, reverse=True)
    return chunks


def _complete(server, body: dict[str, Any]) -> dict[str, Any]:
    answer = server.handle_completions(body)
    if not isinstance(answer, dict) or "error" in answer or not answer.get("choices"):
        raise RuntimeError(f"llama.cpp completion failed: {str(answer)[:500]}")
    return answer


def _completion_body(prompt: list[int], params: SamplingParams, budget: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "prompt": prompt,
        "max_tokens": budget,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "top_k": 0,
        "min_p": 0.0,
        "repeat_penalty": params.repetition_penalty,
        "repeat_last_n": len(prompt) + budget,
        "seed": params.seed if params.seed is not None else secrets.randbits(31),
        "cache_prompt": True,
    }
    if params.stop:
        body["stop"] = list(params.stop)
    if params.dry_multiplier:
        body |= {
            "dry_multiplier": params.dry_multiplier,
            "dry_penalty_last_n": len(prompt) + budget,
        }
    return body


def _forced_body(prompt: list[int], choice: list[int]) -> dict[str, Any]:
    return {
        "prompt": prompt,
        "max_tokens": len(choice),
        "temperature": 0.0,
        "n_probs": 1,
        "post_sampling_probs": False,
        "grammar": "root ::= " + " ".join(f"<[{token}]>" for token in choice),
        "cache_prompt": True,
    }


def _forced_logprob(answer: dict[str, Any], ids: list[int], choice: str) -> float:
    steps = (answer["choices"][0].get("logprobs") or {}).get("content") or []
    got = [int(step["id"]) for step in steps]
    if got != ids:
        raise RuntimeError(
            f"llama.cpp did not follow the forced tokens of {choice!r}: {got} != {ids}"
        )
    return float(sum(step["logprob"] for step in steps))


def _chat_response(answer: dict[str, Any], n_prompt: int) -> ChatResponse:
    choice = answer["choices"][0]
    finish: FinishReason = "length" if choice.get("finish_reason") == "length" else "stop"
    usage = answer.get("usage") or {}
    return ChatResponse(
        text=choice.get("text", ""),
        n_prompt_tokens=n_prompt,
        n_completion_tokens=int(usage.get("completion_tokens", 0)),
        finish_reason=finish,
    )


def _start_server(path: Path, threads: int, parallel: int, max_len: int, options: dict[str, Any]):
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_parallel = parallel
    params.n_ctx = max_len * parallel  # each slot gets n_ctx / n_parallel
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.warmup = False
    params.verbosity = -1
    flash = options.pop("flash_attn", "auto")
    if hasattr(xllamacpp, "llama_flash_attn_type") and hasattr(params, "flash_attn_type"):
        kinds = {
            "auto": "LLAMA_FLASH_ATTN_TYPE_AUTO",
            "on": "LLAMA_FLASH_ATTN_TYPE_ENABLED",
            "off": "LLAMA_FLASH_ATTN_TYPE_DISABLED",
        }
        params.flash_attn_type = getattr(xllamacpp.llama_flash_attn_type, kinds[flash])
    for key, value in options.items():
        if not hasattr(params, key):
            raise ValueError(f"unknown llama.cpp server option {key!r}")
        setattr(params, key, value)
    return xllamacpp.Server(params)


def gguf_context_length(path: Path) -> int:
    """The model's training context length from the GGUF header (`<arch>.context_length`).

    Args:
        path: the GGUF file.

    Returns:
        The length in tokens (a large number when the file does not say).
    """
    found = _gguf_header_values(path, lambda arch: {f"{arch}.context_length"})
    arch = found["general.architecture"]
    return int(found.get(f"{arch}.context_length", 1 << 20))


def gguf_architecture(path: Path) -> str:
    """The GGUF's `general.architecture` (e.g. `gemma3`, `qwen2`)."""
    return _gguf_header_values(path, lambda arch: set())["general.architecture"]


def _gguf_header_values(path: Path, wanted) -> dict[str, Any]:
    """Scalar values from the GGUF key-value header: `general.architecture` and the keys that
    `wanted(arch)` names. Reads the header in order and stops once they are found (the keys come
    before the tokenizer's vocabulary arrays, which `gguf.GGUFReader` would parse in full: tens of
    seconds for 262k tokens).
    """
    import struct

    scalar = {
        0: "B",
        1: "b",
        2: "H",
        3: "h",
        4: "I",
        5: "i",
        6: "f",
        7: "?",
        10: "Q",
        11: "q",
        12: "d",
    }

    with path.open("rb") as f:

        def read(fmt: str):
            return struct.unpack("<" + fmt, f.read(struct.calcsize("<" + fmt)))[0]

        def text() -> str:
            return f.read(read("Q")).decode("utf-8", "replace")

        def value(kind: int):
            if kind == 8:
                return text()
            if kind == 9:
                item, count = read("I"), read("Q")
                if item in scalar:
                    f.seek(struct.calcsize(scalar[item]) * count, 1)
                else:
                    for _ in range(count):
                        value(item)
                return None
            return read(scalar[kind])

        if f.read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file")
        read("I")  # version
        read("Q")  # tensor count
        found: dict[str, Any] = {}
        keys: set[str] = set()
        for _ in range(read("Q")):
            key, kind = text(), read("I")
            item = value(kind)
            if key == "general.architecture":
                found[key] = item
                keys = wanted(item)
            elif key in keys:
                found[key] = item
            if "general.architecture" in found and keys <= found.keys():
                break
    return found


def gguf_tokenizer(gguf: GGUFModel):
    """The GGUF's tokenizer and chat template as a transformers tokenizer, built once per file
    and saved under the cache (a few seconds; the saved copy loads in well under a second).

    The tokenizer class is named from the header's architecture (`tokenizer_type`): without it
    `AutoTokenizer` parses the whole GGUF to find the model type, 30-60 s for Gemma's 262k-token
    vocabulary. Both ways save the same files (checked for Gemma-3 and Qwen2.5).

    Args:
        gguf: the GGUF model.

    Returns:
        The tokenizer.
    """
    from transformers import AutoTokenizer

    folder = models_cache_dir() / "gguf" / gguf.sha256[:12] / "tokenizer"

    def build(tmp: Path) -> None:
        where = (str(gguf.path.parent),)
        try:
            tokenizer = AutoTokenizer.from_pretrained(
                *where, gguf_file=gguf.path.name, tokenizer_type=gguf_architecture(gguf.path)
            )
        except ValueError:  # an architecture transformers names otherwise: the slow way
            tokenizer = AutoTokenizer.from_pretrained(*where, gguf_file=gguf.path.name)
        tokenizer.save_pretrained(str(tmp))

    build_cached_dir(folder, build)
    return AutoTokenizer.from_pretrained(str(folder))
