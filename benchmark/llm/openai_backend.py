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

The parts: `benchmark.llm.openai_http` (requests, retries, deadlines, replicas),
`benchmark.llm.openai_choices` (what `choose` sends and reads) and `benchmark.llm.openai_tokens`
(`count_tokens`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from benchmark.errors import BackendConfigError
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
from benchmark.llm.models import resolve_model
from benchmark.llm.openai_choices import (
    CHOICE_MODES,
    SCORE_FIELDS,
    ChoiceMode,
    ScoreTally,
    decode_fields,
    decoded_choice,
    scored_chats,
)
from benchmark.llm.openai_http import DEFAULT_KEY_ENV, HttpClient, Job, ServerError
from benchmark.llm.openai_tokens import TokenCounter


def _client_setting(name: str) -> property:
    """A backend attribute that its `HttpClient` holds (read and write)."""
    return property(
        lambda self: getattr(self.http, name),
        lambda self, value: setattr(self.http, name, value),
        doc=f"The HTTP client's `{name}` (see the class docstring).",
    )


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
        _refuse_options(api_key, dtype, choice_mode)
        self.http = HttpClient(
            base_url,
            api_key_env=api_key_env,
            max_concurrency=max_concurrency or batch_size,
            timeout_s=timeout_s,
            deadline_s=deadline_s,
            setup_timeout_s=setup_timeout_s,
            max_retries=max_retries,
            backoff_s=backoff_s,
            max_backoff_s=max_backoff_s,
            jitter=jitter,
        )
        self.model_ref = model_ref
        self.choice_mode = choice_mode
        self.choice_top_logprobs = choice_top_logprobs
        self.strict_openai = strict_openai
        self.extra_body = dict(extra_body or {})
        self.progress = progress
        self._tokens = TokenCounter(self.http, model_ref, tokenizer)
        cards = self._models()
        self.model = model or _only_model(cards, self.base_urls[0])
        card = next((c for c in cards if c.get("id") == self.model), {})
        server_len = card.get("max_model_len")
        self._max_model_len = min(max_model_len, int(server_len)) if server_len else max_model_len
        self._fingerprint = fingerprint or _default_fingerprint(model_ref, self.model)

    base_urls = _client_setting("base_urls")
    api_key_env = _client_setting("api_key_env")
    max_concurrency = _client_setting("max_concurrency")
    timeout_s = _client_setting("timeout_s")
    deadline_s = _client_setting("deadline_s")
    setup_timeout_s = _client_setting("setup_timeout_s")
    max_retries = _client_setting("max_retries")
    backoff_s = _client_setting("backoff_s")
    max_backoff_s = _client_setting("max_backoff_s")
    jitter = _client_setting("jitter")

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

    def _models(self) -> list[dict[str, Any]]:
        try:
            return list(self.http.call("/models", None).get("data") or [])
        except ServerError as err:
            if err.status == 404:
                return []
            raise

    def count_tokens(self, messages: MessagesLike) -> int:
        """Length of the templated prompt in tokens (server `/tokenize`, else a local tokenizer).

        Args:
            messages: the chat.

        Returns:
            The token count (generation prompt included).
        """
        return self._tokens.count(normalize_messages(messages), self.model)

    def _chat_job(self, messages: Messages, fields: dict[str, Any]) -> Job:
        """A `POST /chat/completions` of the chat with these fields (over `extra_body`)."""
        if is_completion(messages):
            raise NotImplementedError(
                "plain-text (base-model) prompts are not supported by the openai backend; "
                "use the llamacpp or transformers backend"
            )
        body = {"model": self.model, "messages": messages_as_dicts(messages)}
        return "/chat/completions", {**body, **self.extra_body, **fields}

    def _run_all(self, jobs: list[Job], finish: Callable[[int, dict], None], desc: str) -> None:
        self.http.run_all(jobs, finish, desc, show_progress=self.progress)

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
        jobs = [
            self._chat_job(r.messages, _sampling_fields(r, self.strict_openai)) for r in requests
        ]
        results: list[ChatResponse | None] = [None] * len(jobs)

        def finish(index: int, answer: dict[str, Any]) -> None:
            results[index] = _chat_response(answer)
            if on_result is not None:
                on_result(index, results[index])

        self._run_all(jobs, finish, "generate")
        return [r for r in results if r is not None]

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
        mode, top = self.choice_mode, self.choice_top_logprobs
        jobs = [self._chat_job(r.messages, decode_fields(mode, r.choices, top)) for r in requests]
        results: list[ChoiceResponse | None] = [None] * len(jobs)

        def finish(index: int, answer: dict[str, Any]) -> None:
            request, choice = requests[index], _first_choice(answer)
            results[index] = decoded_choice(mode, top, index, request, choice)
            if on_result is not None:
                on_result(index, results[index])

        self._run_all(jobs, finish, "choose")
        return [r for r in results if r is not None]

    def _choose_score(
        self, requests: Sequence[ChoiceRequest], on_result: ChoiceCallback | None
    ) -> list[ChoiceResponse]:
        """One request per choice: the chat continued by it, scored (see `SCORE_FIELDS`)."""
        chats = scored_chats(requests)
        jobs = [self._chat_job(messages, SCORE_FIELDS) for _, _, messages in chats]
        tally = ScoreTally(requests)
        results: list[ChoiceResponse | None] = [None] * len(requests)

        def finish(job: int, answer: dict[str, Any]) -> None:
            i, choice, _ = chats[job]
            response = tally.add(i, choice, answer, job)
            if response is not None:
                results[i] = response
                if on_result is not None:
                    on_result(i, response)

        self._run_all(jobs, finish, "choose")
        return [r for r in results if r is not None]


def _refuse_options(api_key: Any, dtype: str | None, choice_mode: str) -> None:
    """The key as an option, a dtype, or an unknown choice mode is a `BackendConfigError`."""
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
    if choice_mode not in CHOICE_MODES:
        raise BackendConfigError(
            f"choice_mode must be structured, guided, logprobs or score, got {choice_mode!r}"
        )


def _sampling_fields(request: ChatRequest, strict_openai: bool) -> dict[str, Any]:
    """The request's sampling parameters as chat-completions fields (one seed each)."""
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
    if not strict_openai:
        fields["repetition_penalty"] = s.repetition_penalty
    return fields


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
