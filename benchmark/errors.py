"""The project's own error types: each names what is wrong and what to do about it.

The pytest plugin prints a `BenchError` as one short block (no traceback), so every message
must stand alone: the file, field or row; what was expected; what to do.
"""

from __future__ import annotations

from collections.abc import Iterable

REDACTED = "***"
MAX_MESSAGE_CHARS = 2000  # an error message longer than this is cut (a 25 MB value quoted...)


def capped(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`message`, cut to `limit` characters with a note saying how much was left out."""
    if len(message) <= limit:
        return message
    left_out = f" ... ({len(message) - limit + 60:,} characters left out)"
    return message[: limit - 60] + left_out


class BenchError(Exception):
    """Base of the errors a user can act on; reported without a traceback."""


class DataFileError(BenchError, ValueError):
    """A data file is unreadable or malformed (names the file and the line)."""

    def __init__(self, path: object, message: str, *, line: int | None = None) -> None:
        self.path, self.line = str(path), line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(capped(f"{where}: {message}"))


class BackendConfigError(BenchError, ValueError):
    """A backend name or option that cannot work (unknown name or key, unset key variable)."""


class ResponseCacheError(BenchError, RuntimeError):
    """The response cache cannot be used (names its path and what to do)."""


class RecordError(BenchError, ValueError):
    """A result record that cannot be read or lacks what the leaderboard needs."""

    def __init__(self, path: object, reason: str) -> None:
        self.path, self.reason = str(path), capped(reason)
        super().__init__(capped(f"{self.path}: {reason}"))


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every secret (of 4 characters or more) replaced by `***`.

    Args:
        text: a message that may quote a secret (e.g. a server echoing a header).
        secrets: the values to hide; empty and very short values are ignored.

    Returns:
        The message, safe to print.
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


class CaseFailure(RuntimeError):
    """A case could not produce a score (e.g. the LLM produced no usable data)."""
