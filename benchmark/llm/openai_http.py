"""The HTTP side of `OpenAIBackend`: JSON requests to one or more OpenAI-compatible servers.

Each try is a blocking stdlib call (no extra dependency); `HttpClient.run_all` sends many at
once from worker threads under asyncio. Retries back off exponentially on 429, 5xx, timeouts
and dropped connections (a `Retry-After` header is honoured), each to the next replica; every
request has a deadline over all its tries. The API key is read from the environment per request
and redacted from every error.
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
from typing import Any

from benchmark import progress
from benchmark.errors import BackendConfigError, BenchError, redact

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
# Connection refused means nothing listens there: a couple of quick tries, then a clear error.
REFUSED_RETRIES = 2
REFUSED_DELAY_S = 0.5
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Job = tuple[str, dict[str, Any]]  # (path, JSON body)


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


class HttpClient:
    """Requests with retries, deadlines and round-robin over replicas (see `OpenAIBackend`
    for the options, which it passes on)."""

    def __init__(
        self,
        base_url: str | Sequence[str],
        *,
        api_key_env: str | None,
        max_concurrency: int,
        timeout_s: float,
        deadline_s: float,
        setup_timeout_s: float,
        max_retries: int,
        backoff_s: float,
        max_backoff_s: float,
        jitter: bool,
    ) -> None:
        if max_concurrency < 1:
            raise BackendConfigError(f"max_concurrency must be >= 1, got {max_concurrency}")
        if max_retries < 0:
            raise BackendConfigError(f"max_retries must be >= 0, got {max_retries}")
        for name, value in (
            ("timeout_s", timeout_s),
            ("deadline_s", deadline_s),
            ("setup_timeout_s", setup_timeout_s),
        ):
            if not value > 0:
                raise BackendConfigError(f"{name} must be > 0 seconds, got {value!r}")
        self.base_urls = normalise_urls(base_url)
        self.api_key_env = api_key_env or DEFAULT_KEY_ENV
        check_key_env(api_key_env)  # the key itself is read per request, never stored
        self.max_concurrency = max_concurrency
        self.timeout_s = timeout_s
        self.deadline_s = deadline_s
        self.setup_timeout_s = setup_timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.jitter = jitter

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
            raise self._http_failure(err, f"{request.get_method()} {url}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            raise _connection_failure(err, request.get_method(), url, timeout) from None
        except json.JSONDecodeError as err:
            raise _Retryable(f"{request.get_method()} {url}: invalid JSON answer ({err})") from None

    def _http_failure(self, err: urllib.error.HTTPError, where: str) -> Exception:
        """An error status: `_Retryable` (429, 5xx...) or `ServerError`."""
        detail = _error_detail(err)
        if err.code in RETRY_STATUSES or err.code >= 500:
            retry_after = _retry_after(err.headers.get("Retry-After"))
            return _Retryable(f"{where}: HTTP {err.code}: {detail}", err.code, retry_after)
        if err.code in (401, 403):
            return ServerError(
                f"{where}: HTTP {err.code}: the server refused the API key from "
                f"${self.api_key_env} ({detail})",
                err.code,
            )
        return ServerError(f"{where}: HTTP {err.code}: {detail}", err.code)

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

    def call(
        self, path: str, body: dict[str, Any] | None, index: int = 0, *, setup: bool = True
    ) -> dict[str, Any]:
        """One request with retries, blocking (setup calls and token counts).

        Args:
            path: "/models" under the API root, or "tokenize" under the server root.
            body: the JSON body; None sends a GET.
            index: the request's number (picks the replica of its first try).
            setup: whether `setup_timeout_s` is its deadline (else `deadline_s`).
        """
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

    def run_all(
        self,
        jobs: list[Job],
        finish: Callable[[int, dict], None],
        desc: str,
        *,
        show_progress: bool = True,
    ) -> None:
        """Send every (path, body) job, at most `max_concurrency` at once; `finish` each answer.

        The first job that fails for good stops the jobs not yet sent and is raised once those
        in flight are done (their answers are finished first).
        """
        if not jobs:
            return

        async def main() -> None:
            from tqdm.auto import tqdm

            loop = asyncio.get_running_loop()
            slots = asyncio.Semaphore(self.max_concurrency)
            failures: list[BaseException] = []
            with (
                ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="openai") as pool,
                tqdm(total=len(jobs), desc=desc, unit="req", disable=not show_progress) as bar,
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


def check_key_env(name: str | None) -> None:
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


def normalise_urls(base_url: str | Sequence[str]) -> list[str]:
    """The API roots: http(s) URLs without credentials, "/v1" added to a URL without a path."""
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


def _connection_failure(err: Exception, method: str, url: str, timeout: float) -> _Retryable:
    """A try that got no answer: refused, unresolvable host, timeout or dropped connection."""
    reason = getattr(err, "reason", err)
    if isinstance(reason, socket.gaierror):
        host = urllib.parse.urlsplit(url).hostname
        return _Retryable(
            f"cannot resolve the host {host!r} of {url} ({reason.strerror or reason}); "
            "fix backend_options.base_url",
            refused=True,
        )
    if isinstance(reason, TimeoutError):
        return _Retryable(f"no reply from {url} within {timeout:.0f} s", timed_out=True)
    if isinstance(reason, ConnectionRefusedError):
        return _Retryable(
            f"cannot connect to {url}: connection refused (nothing listens there); "
            "start the server and wait until it accepts requests, or fix "
            "backend_options.base_url",
            refused=True,
        )
    return _Retryable(f"{method} {url}: {type(reason).__name__}: {reason}")


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
