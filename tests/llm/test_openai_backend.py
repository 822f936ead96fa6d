"""The OpenAI-compatible backend against a fake local server (stdlib http.server in a thread).

These run in the main environment: no vLLM, no network beyond 127.0.0.1. The real-server test
is in tests/llm/test_vllm_backend.py (marker `vllm`).
"""

from __future__ import annotations

import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from benchmark.llm.backend import (
    BACKENDS,
    ChatRequest,
    ChoiceRequest,
    SamplingParams,
    backend_class_for,
)
from benchmark.llm.choice_logprobs import UNSCORED, PathStep, score_choices_on_path
from benchmark.llm.openai_backend import OpenAIBackend, ServerError

SECRET = "sk-test-secret-1234567890"


class FakeServer:
    """An OpenAI-shaped server whose answers tests script.

    `script` is a list of (status, seconds to wait, body or None) consumed one per chat request;
    when it is empty, chat requests get a normal answer echoing the request.
    """

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.times: list[float] = []
        self.headers: list[dict[str, str]] = []
        self.script: list[tuple[int, float, dict | None]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.models = [{"id": "fake-model", "max_model_len": 2048}]
        self.delay = 0.0
        self.lock = threading.Lock()
        self.choice_answer: dict | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _reply(self, status: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/v1/models":
                    self._reply(200, {"object": "list", "data": server.models})
                else:
                    self._reply(404, {"error": {"message": "not found"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/tokenize":
                    count = sum(len(m["content"].split()) for m in body["messages"]) + 3
                    self._reply(200, {"count": count, "max_model_len": 2048, "tokens": []})
                    return
                with server.lock:
                    server.requests.append(body)
                    server.times.append(time.monotonic())
                    server.headers.append(dict(self.headers))
                    step = server.script.pop(0) if server.script else (200, server.delay, None)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                status, wait, answer = step
                counted = True
                try:
                    time.sleep(wait)
                    with server.lock:  # done before the reply: the client may send at once
                        server.in_flight -= 1
                        counted = False
                    if status != 200:
                        headers = {"Retry-After": "0"} if status == 429 else None
                        self._reply(status, {"error": {"message": f"scripted {status}"}}, headers)
                        return
                    self._reply(200, answer or server.answer(body))
                except (BrokenPipeError, ConnectionResetError):  # the client timed out
                    pass
                finally:
                    if counted:
                        with server.lock:
                            server.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def answer(self, body: dict) -> dict:
        if "structured_outputs" in body or "guided_choice" in body:
            return self.choice_answer or choice_answer("no", [("no", -0.4, [("yes", -1.1)])])
        text = f"echo seed={body.get('seed')}: {body['messages'][-1]['content']}"
        return {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        }

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def choice_answer(text: str, steps: list[tuple[str, float, list[tuple[str, float]]]]) -> dict:
    content = [
        {
            "token": token,
            "logprob": logprob,
            "top_logprobs": [{"token": token, "logprob": logprob}]
            + [{"token": t, "logprob": lp} for t, lp in alternatives],
        }
        for token, logprob, alternatives in steps
    ]
    return {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": {"content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": len(steps) + 1},
    }


@pytest.fixture
def server():
    fake = FakeServer()
    yield fake
    fake.close()


def make(server: FakeServer, **options) -> OpenAIBackend:
    defaults = {
        "base_url": server.url,
        "backoff_s": 0.01,
        "jitter": False,
        "progress": False,
        "fingerprint": "fake-fp",
    }
    return OpenAIBackend("org/fake-model", **{**defaults, **options})


def chat(text: str, seed: int | None = 1) -> ChatRequest:
    return ChatRequest((("user", text),), SamplingParams(temperature=0.7, seed=seed))


def test_registered_and_imported_lazily():
    assert BACKENDS.get("openai") is OpenAIBackend
    assert backend_class_for("openai") is OpenAIBackend


def test_generate_sends_one_seeded_request_each_in_order(server):
    backend = make(server)
    seen = []
    replies = backend.generate(
        [chat(f"text {i}", seed=i) for i in range(5)] + [chat("unseeded", seed=None)],
        on_result=lambda i, r: seen.append(i),
    )
    assert [r.text for r in replies[:5]] == [f"echo seed={i}: text {i}" for i in range(5)]
    assert replies[5].text == "echo seed=None: unseeded"
    assert sorted(seen) == list(range(6))
    assert (replies[0].n_prompt_tokens, replies[0].n_completion_tokens) == (11, 7)
    assert replies[0].finish_reason == "stop"
    body = next(b for b in server.requests if b["messages"][0]["content"] == "text 3")
    assert body["model"] == "fake-model"
    assert body["seed"] == 3
    assert body["temperature"] == 0.7 and body["top_p"] == 0.9
    assert body["max_tokens"] == 512 and body["repetition_penalty"] == 1.2
    unseeded = next(b for b in server.requests if b["messages"][0]["content"] == "unseeded")
    assert "seed" not in unseeded


def test_server_facts_model_and_max_len(server):
    backend = make(server, max_model_len=4096)
    assert backend.model == "fake-model"
    assert backend.max_model_len == 2048
    assert make(server, max_model_len=1000).max_model_len == 1000
    assert backend.count_tokens([("user", "one two three")]) == 6
    server.models = [{"id": "a"}, {"id": "b"}]
    with pytest.raises(ValueError, match=r"set backend_options.model.*\['a', 'b'\]"):
        make(server)
    assert make(server, model="b").model == "b"


def test_base_url_without_path_gets_v1(server):
    root = server.url.removesuffix("/v1")
    backend = make(server, base_url=root + "/")
    assert backend.base_urls == [server.url]
    with pytest.raises(ValueError, match="http"):
        make(server, base_url="localhost:8000")
    with pytest.raises(ValueError, match="credentials") as info:
        make(server, base_url=f"http://user:{SECRET}@127.0.0.1:1/v1")
    assert SECRET not in str(info.value)


def test_retries_429_and_500_with_exponential_backoff(server):
    server.script = [(429, 0, None), (500, 0, None), (503, 0, None)]
    backend = make(server, backoff_s=0.05, max_backoff_s=10)
    reply = backend.generate([chat("hello")])[0]
    assert reply.text == "echo seed=1: hello"
    assert len(server.requests) == 4
    gaps = [b - a for a, b in zip(server.times, server.times[1:], strict=False)]
    assert gaps[0] >= 0.05 * 0.9 and gaps[1] >= 0.1 * 0.9 and gaps[2] >= 0.2 * 0.9
    assert gaps[2] > gaps[0]


def test_retries_a_timeout(server):
    server.script = [(200, 3.0, None)]
    backend = make(server, timeout_s=1.0)
    assert backend.generate([chat("slow")])[0].text == "echo seed=1: slow"
    assert len(server.requests) == 2


def test_gives_up_after_max_retries_and_stops_the_rest(server):
    server.script = [(500, 0, None)] * 50
    backend = make(server, max_retries=2, max_concurrency=1)
    with pytest.raises(ServerError, match=r"gave up after 3 attempts.*HTTP 500.*scripted 500"):
        backend.generate([chat(f"t{i}") for i in range(10)])
    assert len(server.requests) == 3  # the other nine were never sent


def test_client_errors_are_not_retried(server):
    server.script = [(400, 0, None)]
    backend = make(server)
    with pytest.raises(ServerError, match="HTTP 400: scripted 400") as info:
        backend.generate([chat("bad")])
    assert info.value.status == 400
    assert len(server.requests) == 1


def test_results_before_a_failure_still_reach_on_result(server):
    server.script = [(200, 0, None), (200, 0, None), (400, 0.2, None)]
    backend = make(server, max_concurrency=1)
    seen = []
    with pytest.raises(ServerError):
        backend.generate([chat(f"t{i}") for i in range(5)], on_result=lambda i, r: seen.append(i))
    assert seen == [0, 1]


def test_concurrency_bound_is_respected(server):
    server.delay = 0.15
    backend = make(server, max_concurrency=3)
    start = time.monotonic()
    replies = backend.generate([chat(f"t{i}") for i in range(12)])
    elapsed = time.monotonic() - start
    assert len(replies) == 12
    assert server.max_in_flight == 3
    assert elapsed >= 4 * 0.15 * 0.9  # 12 requests, 3 at a time


def test_max_concurrency_defaults_to_batch_size(server):
    assert make(server, batch_size=5).max_concurrency == 5
    assert make(server, batch_size=5, max_concurrency=9).max_concurrency == 9


def test_key_comes_from_the_environment_and_is_never_shown(server, monkeypatch):
    monkeypatch.setenv("BENCH_TEST_KEY", SECRET)
    backend = make(server, api_key_env="BENCH_TEST_KEY", fingerprint=None)
    backend.generate([chat("hi")])
    assert server.headers[-1]["Authorization"] == f"Bearer {SECRET}"
    shown = [
        repr(backend),
        str(backend),
        backend.fingerprint,
        json.dumps(vars(backend), default=str),
    ]
    assert not any(SECRET in text for text in shown)
    assert backend.fingerprint == "hf:org/fake-model@main"


def test_default_key_variable_is_optional(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    backend = make(server)
    backend.generate([chat("hi")])
    assert "Authorization" not in server.headers[-1]
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    backend.generate([chat("hi")])
    assert server.headers[-1]["Authorization"] == f"Bearer {SECRET}"


def test_bad_key_settings_give_clear_errors(server, monkeypatch):
    monkeypatch.delenv("BENCH_MISSING_KEY", raising=False)
    with pytest.raises(ValueError, match="BENCH_MISSING_KEY, which is not set"):
        make(server, api_key_env="BENCH_MISSING_KEY")
    with pytest.raises(ValueError, match="NAME of an environment variable") as info:
        make(server, api_key_env=SECRET + "-with/odd=chars")
    assert SECRET not in str(info.value)
    with pytest.raises(ValueError, match="never an option") as info:
        make(server, api_key=SECRET)
    assert SECRET not in str(info.value)


def test_refused_key_is_reported_without_the_key(server, monkeypatch):
    monkeypatch.setenv("BENCH_TEST_KEY", SECRET)
    server.script = [(401, 0, None)]
    backend = make(server, api_key_env="BENCH_TEST_KEY")
    with pytest.raises(ServerError, match=r"refused the API key from \$BENCH_TEST_KEY") as info:
        backend.generate([chat("hi")])
    assert SECRET not in str(info.value)
    assert len(server.requests) == 1


def test_dtype_option_is_refused(server):
    with pytest.raises(ValueError, match="server's choice"):
        make(server, dtype="float32")


def test_choose_structured_sends_the_choices_and_reads_logprobs(server):
    backend = make(server)
    request = ChoiceRequest((("user", "Is it?"),), ("yes", "no"))
    reply = backend.choose([request])[0]
    body = server.requests[-1]
    assert body["structured_outputs"] == {"choice": ["yes", "no"]}
    assert body["temperature"] == 0.0 and body["logprobs"] is True
    assert reply.choice == "no"
    assert reply.logprobs == {"yes": -1.1, "no": -0.4}


def test_choose_guided_for_older_servers(server):
    backend = make(server, choice_mode="guided")
    backend.choose([ChoiceRequest((("user", "Is it?"),), ("yes", "no"))])
    assert server.requests[-1]["guided_choice"] == ["yes", "no"]
    assert "structured_outputs" not in server.requests[-1]


def test_choose_rejects_an_unconstrained_answer(server):
    server.choice_answer = choice_answer("Sure!", [("Sure", -0.1, []), ("!", -0.2, [])])
    backend = make(server)
    with pytest.raises(ServerError, match="not one of"):
        backend.choose([ChoiceRequest((("user", "Is it?"),), ("yes", "no"))])


def test_choose_logprobs_fallback_picks_the_best_readable_choice(server):
    server.script = [(200, 0, choice_answer("Yes", [("Yes", -0.2, [("no", -2.0), ("yes", -1.5)])]))]
    backend = make(server, choice_mode="logprobs")
    reply = backend.choose([ChoiceRequest((("user", "Is it?"),), ("yes", "no", "maybe so"))])[0]
    assert "structured_outputs" not in server.requests[-1]
    assert reply.choice == "yes"
    assert reply.logprobs == {"yes": -1.5, "no": -2.0, "maybe so": UNSCORED}


def test_path_scoring_follows_multi_token_choices():
    path = [
        PathStep("science", -0.5, (("sports", -1.5), ("sci", -3.0))),
        PathStep("/", -0.1, ((" and", -4.0),)),
        PathStep("technology", -0.2, (("tech", -2.5),)),
    ]
    scores = score_choices_on_path(
        ["science/technology", "sports", "science and arts", "science/tech", "health"], path
    )
    assert math.isclose(scores["science/technology"], -0.8)
    assert scores["sports"] == -1.5
    assert scores["science/tech"] == pytest.approx(-3.1)
    assert scores["science and arts"] == UNSCORED  # leaves the path by more than one token
    assert scores["health"] == UNSCORED


def test_replicas_share_the_load(server):
    other = FakeServer()
    try:
        backend = make(server, base_url=[server.url, other.url])
        backend.generate([chat(f"t{i}") for i in range(6)])
        assert len(server.requests) == 3 and len(other.requests) == 3
    finally:
        other.close()


def test_backend_factory_builds_it_from_generation_options(server, tmp_path):
    from benchmark.case.spec import GenerationOptions
    from benchmark.llm.cache import ResponseCache
    from benchmark.llm.factory import BackendFactory

    generation = GenerationOptions(
        backend="openai",
        batch_size=4,
        backend_options={"base_url": server.url, "progress": False, "fingerprint": "fp-x"},
    )
    factory = BackendFactory(cache=ResponseCache(tmp_path / "llm.sqlite"))
    cached = factory(generation, "org/fake-model")
    try:
        assert isinstance(cached.backend, OpenAIBackend)
        assert cached.backend.max_concurrency == 4
        assert cached.fingerprint == "fp-x"
        assert factory(generation, "org/fake-model") is cached  # made once per options
    finally:
        cached.close()
