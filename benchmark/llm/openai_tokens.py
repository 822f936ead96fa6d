"""Prompt token counts for `OpenAIBackend`: the server's `/tokenize` (vLLM) while it has one,
else a local tokenizer."""

from __future__ import annotations

from typing import Any

from benchmark.llm.backend import Messages, messages_as_dicts
from benchmark.llm.models import resolve_model
from benchmark.llm.openai_http import HttpClient, ServerError


class TokenCounter:
    """Counts the templated prompt of a chat (generation prompt included).

    Args:
        http: the backend's client (asks the server first).
        model_ref: the case's model, whose tokenizer is the local fallback.
        tokenizer: alias, directory or hub id of a local tokenizer; when set, the server is
            never asked.
    """

    def __init__(self, http: HttpClient, model_ref: str, tokenizer: str | None) -> None:
        self.http = http
        self.model_ref = model_ref
        self.tokenizer_ref = tokenizer
        self._tokenizer: Any = None
        self._server_tokenize: bool | None = None if tokenizer is None else False

    def count(self, messages: Messages, model: str) -> int:
        """Tokens of `messages` as the served `model` sees them."""
        if self._server_tokenize is not False:
            body = {
                "model": model,
                "messages": messages_as_dicts(messages),
                "add_generation_prompt": True,
            }
            try:
                count = int(self.http.call("tokenize", body)["count"])
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

            ref = self.tokenizer_ref or self.model_ref
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
