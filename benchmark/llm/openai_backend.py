"""Chat generation and choices through any OpenAI-compatible HTTP endpoint (`vllm serve`, TGI...).

Requests go out concurrently (asyncio, at most `max_concurrency` in flight, each a blocking
stdlib HTTP call in a worker thread: no extra dependency), with retries and exponential backoff
on 429, 5xx, timeouts and dropped connections (a `Retry-After` header is honoured). The first
request that fails for good stops the requests not yet sent, and is raised once those in flight
are done; responses that did arrive are reported through `on_result` first (and so cached).

Every request carries its own `seed` (when set): on vLLM a seeded request gives the same text
whatever else the server is doing, on the same server build and hardware.

The API key is read from an environment variable (`api_key_env`, default `OPENAI_API_KEY`; with
the default, an unset variable means "no key", as a local `vllm serve` needs none). The key
itself is never an option, and never appears in `repr`, the fingerprint, records or error
messages.

`choose` (`choice_mode`):

* `"structured"` (default; vLLM 0.10.2 and later, checked against 0.32): the request carries
  `"structured_outputs": {"choice": [...]}`; the server decodes greedily within the choices.
* `"guided"`: the same through `"guided_choice": [...]`, for older vLLM servers (vLLM 0.12
  removed that field and ignores it since: the answer then is free text, and `choose` says so).
* `"logprobs"`: no constraint, for servers without structured outputs: a short greedy answer
  with top-k log-probabilities, the choice being the best one that can be read off them.
* `"score"` (vLLM only): exact summed log-probabilities of every choice, from prompt
  log-probabilities of the chat continued by each choice (`continue_final_message`,
  `prompt_logprobs`); argmax wins, as in the transformers backend.

In the first three modes the log-probabilities come from the decoded path (see
`benchmark.llm.choice_logprobs`): the chosen choice and those that branch off it with one token
are scored (on vLLM renormalised over the tokens the choice grammar allows, which leaves the
difference between "yes" and "no" unchanged); other choices get -inf.

Several replicas without a load balancer: give `base_url` a list; requests are spread over them
round-robin and a retry goes to the next one.

A server that does not answer: every request has a deadline, over all its tries: `setup_timeout_s`
(default 30 s) for `GET /models` and `POST /tokenize`, which a working server answers at once, and
`deadline_s` (default 900 s) for a completion. While a request waits, the case's progress line
names it (`waiting for <url>: no reply for 40s`); past its deadline it fails with `no reply from
<url> for N s`. A host name that does not resolve fails at once, like a refused connection.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from benchmark import progress
from benchmark.errors import BackendConfigError, BenchError, redact
from benchmark.llm.backend import (
    ChatBackend,
    ChatCallback,
    ChatRequest,
    ChatResponse,
    ChoiceCallback,
    ChoiceRequest,
    ChoiceResponse,
    FinishReason,
    Messages,
    MessagesLike,
    is_completion,
    messages_as_dicts,
    normalize_messages,
)
from benchmark.llm.choice_logprobs import PathStep, best_scored, score_choices_on_path
from benchmark.llm.models import resolve_model

ChoiceMode = Literal["structured", "guided", "logprobs", "score"]
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
# Connection refused means nothing listens there: a couple of quick tries, then a clear error.
REFUSED_RETRIES = 2
REFUSED_DELAY_S = 0.5
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ServerError(BenchError, RuntimeError):
    """A request the server answered with an error, or that failed after every retry."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class _Retryable(Exception):
    """A failure worth another try (429, 5xx, timeout, connection error)."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        retry_after: float | None = None,
        *,
        refused: bool = False,
        timed_out: bool = False,
    ):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.refused = refused  # nothing listens there, or the host does not resolve
        self.timed_out = timed_out


class OpenAIBackend(ChatBackend):
    """An OpenAI-compatible chat-completions server behind the `ChatBackend` interface.

    Args:
        model_ref: the case's model (alias, directory or hub id): names the served model when
            `model` is not given and keys the response cache (see `fingerprint`).
        base_url: the API root, e.g. "http://127.0.0.1:8000/v1" ("/v1" is added to a URL
            without a path), or a list of them (replicas, round-robin).
        model: the served model name; default: the server's only model (`GET /models`).
        api_key_env: NAME of the environment variable holding the key (never the key).
        max_concurrency: requests in flight at once; default `batch_size`.
        batch_size: default for `max_concurrency` (the generation options' batch size).
        max_model_len: prompt plus completion limit; lowered to the server's when it says.
        timeout_s: one try's timeout (a try without a reply by then is retried).
        deadline_s: a completion request with no reply after this long, over all its tries,
            fails (`no reply from <url> for N s`).
        setup_timeout_s: the same deadline for `GET /models` and `POST /tokenize`, which a
            working server answers at once.
        max_retries: further tries after a retryable failure.
        backoff_s: first retry delay; doubles per try, capped at `max_backoff_s`.
        max_backoff_s: longest delay between tries.
        jitter: scale each delay by a random factor in [0.5, 1] (spreads retry storms).
        choice_mode: "structured", "guided", "logprobs" or "score" (see the module docstring).
        choice_top_logprobs: alternatives per step asked for in choose (OpenAI allows 20).
        fingerprint: the response-cache id of the served weights; default: the fingerprint of
            `model_ref` when it resolves here (alias, directory, hub id), else
            "openai-served:<model>". Set it when the server serves other weights under a name.
        tokenizer: alias, directory or hub id of a local tokenizer for `count_tokens`; default:
            the server's `/tokenize` (vLLM), else `model_ref`'s tokenizer.
        strict_openai: send only OpenAI's own fields (no repetition_penalty), for servers that
            refuse unknown ones.
        extra_body: more fields for every chat-completions request.
        progress: show a tqdm progress bar.
        dtype: not allowed (the server chose its dtype: `vllm serve --dtype`).
        api_key: not allowed (put the key in the environment, name it in `api_key_env`).
    """

    def __init__(
        self,
        model_ref: str,
        *,
        base_url: str | Sequence[str],
        model: str | None = None,
        api_key_env: str | None = None,
        max_concurrency: int | None = None,
        batch_size: int = 16,
        max_model_len: int = 4096,
        timeout_s: float = 600.0,
        deadline_s: float = 900.0,
        setup_timeout_s: float = 30.0,
        max_retries: int = 6,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        jitter: bool = True,
        choice_mode: ChoiceMode = "structured",
        choice_top_logprobs: int = 20,
        fingerprint: str | None = None,
        tokenizer: str | None = None,
        strict_openai: bool = False,
        extra_body: dict[str, Any] | None = None,
        progress: bool = True,
        dtype: str | None = None,
        api_key: Any = None,
    ) -> None:
        if api_key is not None:
            raise BackendConfigError(
                "the API key is never an option (options end up in records and logs): export it "
                f"in an environment variable and name that variable in api_key_env (default "
                f"{DEFAULT_KEY_ENV})"
            )
        if dtype is not None:
            raise BackendConfigError(
                "dtype is the server's choice (e.g. `vllm serve --dtype`), not an option here"
            )
        if choice_mode not in ("structured", "guided", "logprobs", "score"):
            raise BackendConfigError(
                f"choice_mode must be structured, guided, logprobs or score, got {choice_mode!r}"
            )
        concurrency = max_concurrency or batch_size
        if concurrency < 1:
            raise BackendConfigError(f"max_concurrency must be >= 1, got {concurrency}")
        if max_retries < 0:
            raise BackendConfigError(f"max_retries must be >= 0, got {max_retries}")
        for name, value in (
            ("timeout_s", timeout_s),
            ("deadline_s", deadline_s),
            ("setup_timeout_s", setup_timeout_s),
        ):
            if not value > 0:
                raise BackendConfigError(f"{name} must be > 0 seconds, got {value!r}")
        self.model_ref = model_ref
        self.base_urls = _normalise_urls(base_url)
        self.api_key_env = api_key_env or DEFAULT_KEY_ENV
        _check_key_env(api_key_env)  # the key itself is read per request, never stored
        self.max_concurrency = concurrency
        self.timeout_s = timeout_s
        self.deadline_s = deadline_s
        self.setup_timeout_s = setup_timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.jitter = jitter
        self.choice_mode = choice_mode
        self.choice_top_logprobs = choice_top_logprobs
        self.strict_openai = strict_openai
        self.extra_body = dict(extra_body or {})
        self.progress = progress
        self._tokenizer_ref = tokenizer
        self._tokenizer: Any = None
        self._server_tokenize: bool | None = None if tokenizer is None else False
        cards = self._models()
        self.model = model or _only_model(cards, self.base_urls[0])
        card = next((c for c in cards if c.get("id") == self.model), {})
        server_len = card.get("max_model_len")
        self._max_model_len = min(max_model_len, int(server_len)) if server_len else max_model_len
        self._fingerprint = fingerprint or _default_fingerprint(model_ref, self.model)

    def __repr__(self) -> str:
        urls = self.base_urls[0] if len(self.base_urls) == 1 else self.base_urls
        return (
            f"OpenAIBackend(model={self.model!r}, base_url={urls!r}, "
            f"api_key_env={self.api_key_env!r}, max_concurrency={self.max_concurrency})"
        )

    @property
    def max_model_len(self) -> int:
        """Prompt plus completion length limit in tokens."""
        return self._max_model_len

    @property
    def fingerprint(self) -> str:
        """Id of the served weights (keys the response cache); never holds URL or key."""
        return self._fingerprint

    # -- HTTP ------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _send(self, url: str, body: dict[str, Any] | None, timeout: float) -> dict[str, Any]:
        """One HTTP call: the JSON answer, `_Retryable` or `ServerError` (key redacted)."""
        try:
            with progress.waiting_for(url):
                return self._send_once(url, body, timeout)
        except (_Retryable, ServerError) as err:
            err.args = (redact(str(err), [os.environ.get(self.api_key_env)]),)
            raise

    def _send_once(self, url: str, body: dict[str, Any] | None, timeout: float) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, headers=self._headers())
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:
                return json.loads(reply.read() or b"{}")
        except urllib.error.HTTPError as err:
            detail = _error_detail(err)
            where = f"{request.get_method()} {url}"
            if err.code in RETRY_STATUSES or err.code >= 500:
                retry_after = _retry_after(err.headers.get("Retry-After"))
                raise _Retryable(
                    f"{where}: HTTP {err.code}: {detail}", err.code, retry_after
                ) from None
            if err.code in (401, 403):
                raise ServerError(
                    f"{where}: HTTP {err.code}: the server refused the API key from "
                    f"${self.api_key_env} ({detail})",
                    err.code,
                ) from None
            raise ServerError(f"{where}: HTTP {err.code}: {detail}", err.code) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            reason = getattr(err, "reason", err)
            if isinstance(reason, socket.gaierror):
                host = urllib.parse.urlsplit(url).hostname
                raise _Retryable(
                    f"cannot resolve the host {host!r} of {url} ({reason.strerror or reason}); "
                    "fix backend_options.base_url",
                    refused=True,
                ) from None
            if isinstance(reason, TimeoutError):
                raise _Retryable(
                    f"no reply from {url} within {timeout:.0f} s", timed_out=True
                ) from None
            if isinstance(reason, ConnectionRefusedError):
                raise _Retryable(
                    f"cannot connect to {url}: connection refused (nothing listens there); "
                    "start the server and wait until it accepts requests, or fix "
                    "backend_options.base_url",
                    refused=True,
                ) from None
            raise _Retryable(
                f"{request.get_method()} {url}: {type(reason).__name__}: {reason}"
            ) from None
        except json.JSONDecodeError as err:
            raise _Retryable(f"{request.get_method()} {url}: invalid JSON answer ({err})") from None

    def _delay(self, attempt: int, retry_after: float | None, refused: bool = False) -> float:
        if refused:
            return REFUSED_DELAY_S
        delay = min(self.max_backoff_s, self.backoff_s * 2**attempt)
        if self.jitter:
            delay *= random.uniform(0.5, 1.0)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_backoff_s))
        return delay

    def _url(self, path: str, index: int, attempt: int) -> str:
        base = self.base_urls[(index + attempt) % len(self.base_urls)]
        return base + path if path.startswith("/") else f"{_root(base)}/{path}"

    def _last_attempt(self, err: _Retryable) -> int:
        """Index of the last try: fewer for a refused connection (nothing listens there)."""
        return min(self.max_retries, REFUSED_RETRIES) if err.refused else self.max_retries

    def _try_timeout(self, url: str, started: float, setup: bool, err: Exception | None) -> float:
        """The timeout of the next try: what is left of the request's deadline (at most
        `timeout_s`); a request past its deadline fails, naming the URL and the option."""
        name, deadline = (
            ("setup_timeout_s", self.setup_timeout_s) if setup else ("deadline_s", self.deadline_s)
        )
        left = deadline - (time.monotonic() - started)
        if left <= 0.05:
            last = f"; last try: {err}" if err and "no reply" not in str(err) else ""
            raise ServerError(
                f"no reply from {url} for {deadline:.0f} s (backend_options.{name}){last}; is "
                f"the server up and answering? A slow server needs a larger {name}"
            )
        return min(self.timeout_s, left)

    def _call(
        self, path: str, body: dict[str, Any] | None, index: int = 0, *, setup: bool = True
    ) -> dict[str, Any]:
        """One request with retries, blocking (setup calls and `count_tokens`)."""
        started, err = time.monotonic(), None
        for attempt in range(self.max_retries + 1):
            url = self._url(path, index, attempt)
            try:
                return self._send(url, body, self._try_timeout(url, started, setup, err))
            except _Retryable as failure:
                err = failure
                if err.timed_out:  # the deadline may be up: fail now, not after a backoff
                    self._try_timeout(url, started, setup, err)
                if attempt >= self._last_attempt(err):
                    raise _gave_up(err, attempt) from None
                time.sleep(self._delay(attempt, err.retry_after, err.refused))
        raise AssertionError("unreachable")

    async def _call_async(self, loop, pool, path, body, index, stop: list) -> dict[str, Any]:
        started, err = time.monotonic(), None
        for attempt in range(self.max_retries + 1):
            try:
                url = self._url(path, index, attempt)
                timeout = self._try_timeout(url, started, False, err)
                return await loop.run_in_executor(pool, self._send, url, body, timeout)
            except _Retryable as failure:
                err = failure
                if err.timed_out:
                    self._try_timeout(url, started, False, err)
                if attempt >= self._last_attempt(err):
                    raise _gave_up(err, attempt) from None
                if stop:
                    raise
                await asyncio.sleep(self._delay(attempt, err.retry_after, err.refused))
        raise AssertionError("unreachable")

    def _run_all(
        self, jobs: list[tuple[str, dict[str, Any]]], finish: Callable[[int, dict], None], desc: str
    ) -> None:
        """Send every (path, body) job, at most `max_concurrency` at once; `finish` each answer."""
        if not jobs:
            return

        async def main() -> None:
            from tqdm.auto import tqdm

            loop = asyncio.get_running_loop()
            slots = asyncio.Semaphore(self.max_concurrency)
            failures: list[BaseException] = []
            with (
                ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="openai") as pool,
                tqdm(total=len(jobs), desc=desc, unit="req", disable=not self.progress) as bar,
            ):

                async def one(index: int, path: str, body: dict[str, Any]) -> None:
                    async with slots:
                        if failures:
                            return
                        try:
                            answer = await self._call_async(loop, pool, path, body, index, failures)
                            finish(index, answer)
                        except Exception as err:  # first failure wins, the rest stop
                            failures.append(err)
                        bar.update(1)

                await asyncio.gather(*(one(i, path, body) for i, (path, body) in enumerate(jobs)))
            if failures:
                raise failures[0]

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(main())
            return
        with ThreadPoolExecutor(1) as runner:  # called from inside an event loop (notebooks)
            runner.submit(asyncio.run, main()).result()

    # -- server facts ----------------------------------------------------------------------
    def _models(self) -> list[dict[str, Any]]:
        try:
            return list(self._call("/models", None).get("data") or [])
        except ServerError as err:
            if err.status == 404:
                return []
            raise

    # -- tokens ----------------------------------------------------------------------------
    def count_tokens(self, messages: MessagesLike) -> int:
        """Length of the templated prompt in tokens (server `/tokenize`, else a local tokenizer).

        Args:
            messages: the chat.

        Returns:
            The token count (generation prompt included).
        """
        messages = normalize_messages(messages)
        if self._server_tokenize is not False:
            body = {
                "model": self.model,
                "messages": messages_as_dicts(messages),
                "add_generation_prompt": True,
            }
            try:
                count = int(self._call("tokenize", body)["count"])
            except ServerError as err:
                if err.status not in (404, 405):
                    raise
                self._server_tokenize = False
            else:
                self._server_tokenize = True
                return count
        tokenizer = self._local_tokenizer()
        text = tokenizer.apply_chat_template(
            messages_as_dicts(messages), add_generation_prompt=True, tokenize=False
        )
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def _local_tokenizer(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            ref = self._tokenizer_ref or self.model_ref
            try:
                resolved = resolve_model(ref, tokenizer_only=True)
                source = {"revision": resolved.revision} if resolved.revision else {}
                self._tokenizer = AutoTokenizer.from_pretrained(resolved.path_or_id, **source)
            except (OSError, ValueError, ImportError) as err:
                raise ServerError(
                    f"count_tokens: the server has no /tokenize and no local tokenizer loads from "
                    f"{ref!r} ({err}); set backend_options.tokenizer to a local directory or alias"
                ) from None
        return self._tokenizer

    # -- generate --------------------------------------------------------------------------
    def _chat_body(self, messages: Messages, **fields: Any) -> dict[str, Any]:
        if is_completion(messages):
            raise NotImplementedError(
                "plain-text (base-model) prompts are not supported by the openai backend; "
                "use the llamacpp or transformers backend"
            )
        return {
            "model": self.model,
            "messages": messages_as_dicts(messages),
            **self.extra_body,
            **fields,
        }

    def generate(
        self, requests: Sequence[ChatRequest], *, on_result: ChatCallback | None = None
    ) -> list[ChatResponse]:
        """Complete every request (concurrent `POST /chat/completions`, one seed each).

        Args:
            requests: the chats and their sampling parameters.
            on_result: called with (index, response) as each answer arrives.

        Returns:
            One response per request, in request order.
        """
        jobs = []
        for request in requests:
            s = request.sampling
            fields: dict[str, Any] = {
                "temperature": s.temperature,
                "top_p": s.top_p,
                "max_tokens": s.max_new_tokens,
                "n": 1,
            }
            if s.seed is not None:
                fields["seed"] = s.seed
            if s.stop:
                fields["stop"] = list(s.stop)
            if not self.strict_openai:
                fields["repetition_penalty"] = s.repetition_penalty
            jobs.append(("/chat/completions", self._chat_body(request.messages, **fields)))
        results: list[ChatResponse | None] = [None] * len(jobs)

        def finish(index: int, answer: dict[str, Any]) -> None:
            results[index] = _chat_response(answer)
            if on_result is not None:
                on_result(index, results[index])

        self._run_all(jobs, finish, "generate")
        return [r for r in results if r is not None]

    # -- choose ----------------------------------------------------------------------------
    def choose(
        self, requests: Sequence[ChoiceRequest], *, on_result: ChoiceCallback | None = None
    ) -> list[ChoiceResponse]:
        """Pick a choice per request (see `choice_mode` in the module docstring).

        Args:
            requests: the chats and their choices.
            on_result: called with (index, response) as each request is decided.

        Returns:
            One response per request, in request order.
        """
        if self.choice_mode == "score":
            return self._choose_score(requests, on_result)
        jobs = []
        for request in requests:
            fields: dict[str, Any] = {
                "temperature": 0.0,
                "max_tokens": max(len(c.encode()) for c in request.choices) + 2,
                "logprobs": True,
                "top_logprobs": self.choice_top_logprobs,
                "n": 1,
            }
            if self.choice_mode == "structured":
                fields["structured_outputs"] = {"choice": list(request.choices)}
            elif self.choice_mode == "guided":
                fields["guided_choice"] = list(request.choices)
            jobs.append(("/chat/completions", self._chat_body(request.messages, **fields)))
        results: list[ChoiceResponse | None] = [None] * len(jobs)

        def finish(index: int, answer: dict[str, Any]) -> None:
            results[index] = self._choice_response(index, requests[index], answer)
            if on_result is not None:
                on_result(index, results[index])

        self._run_all(jobs, finish, "choose")
        return [r for r in results if r is not None]

    def _choice_response(
        self, index: int, request: ChoiceRequest, answer: dict[str, Any]
    ) -> ChoiceResponse:
        choice = _first_choice(answer)
        text = (choice.get("message") or {}).get("content") or ""
        content = (choice.get("logprobs") or {}).get("content") or []
        path = [
            PathStep(
                str(step.get("token", "")),
                float(step.get("logprob", float("-inf"))),
                tuple(
                    (str(t.get("token", "")), float(t["logprob"]))
                    for t in step.get("top_logprobs") or []
                ),
            )
            for step in content
        ]
        logprobs = score_choices_on_path(request.choices, path)
        if self.choice_mode != "logprobs":
            if text not in request.choices:
                hint = (
                    " (vLLM >= 0.12 ignores guided_choice: use choice_mode: structured)"
                    if self.choice_mode == "guided"
                    else " (does this server support structured outputs? try choice_mode: "
                    "guided on vLLM < 0.10.2, or logprobs)"
                )
                raise ServerError(
                    f"request {index}: the server answered {text!r}, not one of "
                    f"{list(request.choices)}{hint}"
                )
            return ChoiceResponse(text, logprobs)
        best = text if text in request.choices else best_scored(request.choices, logprobs)
        if best is None:
            raise ServerError(
                f"request {index}: no choice of {list(request.choices)} can be read off the "
                f"answer {text!r} and its top-{self.choice_top_logprobs} log-probabilities"
            )
        return ChoiceResponse(best, logprobs)

    def _choose_score(
        self, requests: Sequence[ChoiceRequest], on_result: ChoiceCallback | None
    ) -> list[ChoiceResponse]:
        jobs, owners = [], []
        for i, request in enumerate(requests):
            for choice in request.choices:
                messages = (*request.messages, ("assistant", choice))
                fields = {
                    "max_tokens": 1,
                    "temperature": 0.0,
                    "prompt_logprobs": 0,
                    "add_generation_prompt": False,
                    "continue_final_message": True,
                }
                jobs.append(("/chat/completions", self._chat_body(messages, **fields)))
                owners.append((i, choice))
        scores: list[dict[str, float]] = [{} for _ in requests]
        results: list[ChoiceResponse | None] = [None] * len(requests)

        def finish(job: int, answer: dict[str, Any]) -> None:
            i, choice = owners[job]
            request = requests[i]
            scores[i][choice] = _suffix_logprob(answer.get("prompt_logprobs"), choice, job)
            if len(scores[i]) == len(request.choices):
                ordered = {c: scores[i][c] for c in request.choices}
                best = max(request.choices, key=lambda c: (ordered[c], -request.choices.index(c)))
                results[i] = ChoiceResponse(best, ordered)
                if on_result is not None:
                    on_result(i, results[i])

        self._run_all(jobs, finish, "choose")
        return [r for r in results if r is not None]


def _check_key_env(name: str | None) -> None:
    """An explicitly named key variable must be a variable name, and set."""
    if name is None:
        return
    if not _ENV_NAME.match(name):
        raise BackendConfigError(
            "api_key_env must be the NAME of an environment variable (letters, digits, _), "
            "not the key itself"
        )
    value = os.environ.get(name)
    if not value:
        raise BackendConfigError(
            f"api_key_env names the environment variable {name}, which is not set or empty: "
            f"export {name}=... before the run (or drop api_key_env for a server without keys)"
        )


def _normalise_urls(base_url: str | Sequence[str]) -> list[str]:
    urls = [base_url] if isinstance(base_url, str) else list(base_url)
    if not urls:
        raise BackendConfigError("base_url must name at least one server")
    out = []
    for url in urls:
        if not isinstance(url, str) or not re.match(r"^https?://[^/]+", url):
            raise BackendConfigError(f"base_url must be an http(s) URL, got {url!r}")
        if "@" in url.split("/")[2]:
            raise BackendConfigError(
                "base_url must not carry credentials (options end up in records): put the key "
                "in an environment variable and name it in api_key_env"
            )
        url = url.rstrip("/")
        if re.fullmatch(r"https?://[^/]+", url):
            url += "/v1"
        out.append(url)
    return out


def _root(base: str) -> str:
    return base[: -len("/v1")] if base.endswith("/v1") else base


def _only_model(cards: list[dict[str, Any]], url: str) -> str:
    ids = [str(c["id"]) for c in cards if c.get("id")]
    if len(ids) == 1:
        return ids[0]
    listed = f"it serves {ids}" if ids else "it lists no models"
    raise BackendConfigError(
        f"set backend_options.model: {url}/models does not name one model ({listed})"
    )


def _default_fingerprint(model_ref: str, served: str) -> str:
    try:
        return resolve_model(model_ref).fingerprint
    except (ValueError, ImportError, OSError):
        return f"openai-served:{served}"


def _error_detail(err: urllib.error.HTTPError) -> str:
    try:
        raw = err.read().decode("utf-8", "replace")
    except OSError:
        return err.reason or ""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return raw[:500]
    message = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(message, dict):
        message = message.get("message", message)
    return str(message)[:500]


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _gave_up(err: _Retryable, attempt: int) -> ServerError:
    return ServerError(f"gave up after {attempt + 1} attempts: {err}", err.status)


def _first_choice(answer: dict[str, Any]) -> dict[str, Any]:
    choices = answer.get("choices") or []
    if not choices:
        raise ServerError(f"the server's answer has no choices: {str(answer)[:300]}")
    return choices[0]


def _chat_response(answer: dict[str, Any]) -> ChatResponse:
    choice = _first_choice(answer)
    usage = answer.get("usage") or {}
    finish: FinishReason = "length" if choice.get("finish_reason") == "length" else "stop"
    return ChatResponse(
        text=(choice.get("message") or {}).get("content") or "",
        n_prompt_tokens=int(usage.get("prompt_tokens") or 0),
        n_completion_tokens=int(usage.get("completion_tokens") or 0),
        finish_reason=finish,
    )


def _suffix_logprob(prompt_logprobs: list | None, choice: str, job: int) -> float:
    """Summed log-probability of the prompt's last tokens that spell `choice` (vLLM format)."""
    if not prompt_logprobs:
        raise ServerError(
            f"choose request {job}: no prompt_logprobs in the answer; choice_mode: score needs a "
            "vLLM server"
        )
    text, total = "", 0.0
    for entry in reversed(prompt_logprobs):
        if not entry:
            break
        token = next(iter(entry.values()))  # the prompt's own token comes first
        text = (token.get("decoded_token") or "") + text
        total += float(token["logprob"])
        if text == choice:
            return total
        if len(text) >= len(choice) or not choice.endswith(text):
            break
    raise ServerError(f"choose request {job}: the prompt does not end with the choice {choice!r}")
