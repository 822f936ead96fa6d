"""A content-addressed sqlite cache of LLM responses, and a backend wrapper that uses it.

Keys hash exactly what changes a response: the backend-independent model fingerprint, the
messages, the sampling parameters (seed included) or the choices, and the request kind. The
database runs in WAL mode with a busy timeout, so several processes (pytest-xdist workers,
parallel runs) can read and write it at once. Each response is committed as soon as its batch
finishes, so a killed run loses at most the batch in flight.

Unseeded sampling (temperature > 0, seed None) is deliberately not cached: serving the same text
again would turn "draw another sample" loops into endless repeats. Pass seeds to make sampled
requests reproducible and cacheable.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from benchmark import progress
from benchmark.errors import ResponseCacheError
from benchmark.llm.backend import (
    ChatBackend,
    ChatCallback,
    ChatRequest,
    ChatResponse,
    ChoiceCallback,
    ChoiceRequest,
    ChoiceResponse,
    MessagesLike,
)
from benchmark.paths import cache_dir

KEY_VERSION = 1
# sqlite result codes that mean "this file is damaged", not "busy, try again".
_CORRUPTION_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB


class ResponseCacheWarning(UserWarning):
    """The response cache was damaged and moved aside; the run goes on with an empty one."""


def is_corruption(err: BaseException) -> bool:
    """Whether an sqlite error says the database file is damaged."""
    code = getattr(err, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _CORRUPTION_CODES
    text = str(err)
    return "malformed" in text or "not a database" in text


_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def default_cache_path() -> Path:
    """Where the response cache lives by default.

    Returns:
        `$BENCH_RESPONSE_CACHE` if set, else `cache_dir()/"llm_responses.sqlite"`.
    """
    override = os.environ.get("BENCH_RESPONSE_CACHE")
    return Path(override) if override else cache_dir() / "llm_responses.sqlite"


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace (stable across runs and machines).

    Args:
        value: JSON-serialisable data.

    Returns:
        The JSON text.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_payload(model: str, request: ChatRequest | ChoiceRequest) -> dict[str, Any]:
    """Everything that determines a response, as plain JSON data.

    Args:
        model: the backend's model fingerprint.
        request: a chat or choice request.

    Returns:
        The payload whose canonical JSON is hashed into the key.
    """
    payload: dict[str, Any] = {
        "v": KEY_VERSION,
        "model": model,
        "messages": [list(message) for message in request.messages],
    }
    if isinstance(request, ChatRequest):
        payload["kind"] = "chat"
        payload["sampling"] = sampling_payload(request.sampling)
    else:
        payload["kind"] = "choice"
        payload["choices"] = list(request.choices)
    return payload


def sampling_payload(sampling) -> dict[str, Any]:
    """The sampling parameters for a cache key; fields added later are left out at their
    defaults, so the keys of requests made before they existed stay the same.

    Args:
        sampling: a `SamplingParams`.

    Returns:
        Its fields as a dict.
    """
    fields = dataclasses.asdict(sampling)
    if not fields.get("stop"):
        fields.pop("stop", None)
    else:
        fields["stop"] = list(fields["stop"])
    if not fields.get("dry_multiplier"):
        fields.pop("dry_multiplier", None)
    return fields


def request_key(model: str, request: ChatRequest | ChoiceRequest) -> str:
    """The cache key of a request: sha256 of its canonical payload.

    Args:
        model: the backend's model fingerprint.
        request: a chat or choice request.

    Returns:
        The hex digest.
    """
    return hashlib.sha256(canonical_json(request_payload(model, request)).encode()).hexdigest()


def is_cacheable(request: ChatRequest | ChoiceRequest) -> bool:
    """Whether a request yields the same response again (choices, greedy or seeded chats).

    Args:
        request: a chat or choice request.

    Returns:
        True when caching it is sound.
    """
    return isinstance(request, ChoiceRequest) or request.sampling.reproducible


class ResponseCache:
    """sqlite-backed map from request keys to responses, safe across processes.

    Args:
        path: database file; default `default_cache_path()`.
        timeout_s: how long a writer waits for a lock held by another process.
    """

    def __init__(self, path: str | Path | None = None, *, timeout_s: float = 120.0) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.timeout_s = timeout_s
        self._connection: sqlite3.Connection | None = None
        self._pid = -1
        self._inode: int | None = None
        self.moved_aside: list[Path] = []

    def _db(self) -> sqlite3.Connection:
        if self._connection is None or self._pid != os.getpid():
            self._connection = None
            connection = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
            try:
                connection.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute("PRAGMA synchronous = NORMAL")
                connection.execute(_SCHEMA)
            except sqlite3.DatabaseError:
                connection.close()
                raise
            self._connection, self._pid = connection, os.getpid()
            self._inode = _inode(self.path)
        return self._connection

    def _guarded(self, action: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run `action` on the database; a damaged file is moved aside once and retried empty."""
        try:
            return action(self._db())
        except sqlite3.DatabaseError as err:
            if not is_corruption(err):
                raise
            self._move_aside(err)
        try:
            return action(self._db())
        except sqlite3.DatabaseError as err:
            raise ResponseCacheError(
                f"response cache {self.path} is unusable ({err}) even after moving the damaged "
                f"file aside; delete {self.path} (or set $BENCH_RESPONSE_CACHE to another file) "
                "and rerun"
            ) from None

    def _move_aside(self, err: BaseException) -> None:
        """Rename the damaged database (and its WAL files) to `<name>.corrupt-<time>`."""
        self.close()
        self._connection = None
        if self._inode is not None and _inode(self.path) not in (None, self._inode):
            return  # another process already replaced it with a fresh one
        target = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        try:
            os.replace(self.path, target)
        except FileNotFoundError:
            return
        except OSError as move_err:
            raise ResponseCacheError(
                f"response cache {self.path} is damaged ({err}) and cannot be moved aside "
                f"({move_err.strerror}); delete it (or set $BENCH_RESPONSE_CACHE to another file) "
                "and rerun"
            ) from None
        for suffix in ("-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        self._inode = None
        self.moved_aside.append(target)
        message = (
            f"response cache {self.path} is damaged ({err}); moved it to {target} and going on "
            "with an empty cache (responses are requested again; delete the moved file when done)"
        )
        warnings.warn(message, ResponseCacheWarning, stacklevel=3)
        progress.notice(message)  # warnings are hidden without -v: the run must say it

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Look up several keys at once.

        Args:
            keys: request keys.

        Returns:
            The stored responses (as dicts) of the keys found.
        """
        wanted = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT key, response FROM responses WHERE key IN ({marks})"
            rows = self._guarded(lambda db, q=query, c=chunk: db.execute(q, c).fetchall())
            for key, response in rows:
                found[key] = json.loads(response)
        return found

    def put(self, key: str, payload: dict[str, Any], response: dict[str, Any]) -> None:
        """Store one response (the first one stored for a key wins).

        Args:
            key: the request key.
            payload: the request payload (kept for inspection).
            response: the response as a dict.
        """
        row = (
            key,
            payload["kind"],
            payload["model"],
            canonical_json(payload),
            canonical_json(response),
            time.time(),
        )
        self._guarded(
            lambda db: db.execute("INSERT OR IGNORE INTO responses VALUES (?, ?, ?, ?, ?, ?)", row)
        )

    def rows_since(self, since: float = 0.0) -> list[tuple]:
        """Whole rows (key, kind, model, request, response, created) created at or after `since`,
        oldest first."""
        query = "SELECT * FROM responses WHERE created >= ? ORDER BY created, key"
        return self._guarded(lambda db: db.execute(query, (since,)).fetchall())

    def add_rows(self, rows: Sequence[tuple]) -> None:
        """Insert whole rows in one transaction; a key already stored keeps its row."""

        def insert(db: sqlite3.Connection) -> None:
            db.execute("BEGIN")
            db.executemany("INSERT OR IGNORE INTO responses VALUES (?, ?, ?, ?, ?, ?)", rows)
            db.execute("COMMIT")

        self._guarded(insert)

    def __len__(self) -> int:
        return int(
            self._guarded(lambda db: db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])
        )

    def close(self) -> None:
        """Close this process's connection."""
        if self._connection is not None and self._pid == os.getpid():
            self._connection.close()
        self._connection = None


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


class CachedBackend(ChatBackend):
    """Serve responses from a `ResponseCache`; send only misses to the wrapped backend.

    Misses of one call go to the inner backend in one call (duplicates sent once) and are
    written as each of its batches finishes. `hits`, `misses` and `uncached` count requests.

    Args:
        backend: any chat backend.
        cache: the response cache; default one at `default_cache_path()`.
    """

    def __init__(self, backend: ChatBackend, cache: ResponseCache | None = None) -> None:
        self.backend = backend
        self.cache = cache if cache is not None else ResponseCache()
        self.hits = 0
        self.misses = 0
        self.uncached = 0

    @property
    def stats(self) -> dict[str, int]:
        """Hit, miss and uncached (unseeded sampling) counts so far."""
        return {"hits": self.hits, "misses": self.misses, "uncached": self.uncached}

    @property
    def max_model_len(self) -> int:
        """The inner backend's limit."""
        return self.backend.max_model_len

    @property
    def fingerprint(self) -> str:
        """The inner backend's model fingerprint."""
        return self.backend.fingerprint

    def count_tokens(self, messages: MessagesLike) -> int:
        """Delegates to the inner backend.

        Args:
            messages: the chat.

        Returns:
            The token count.
        """
        return self.backend.count_tokens(messages)

    def generate(
        self, requests: Sequence[ChatRequest], *, on_result: ChatCallback | None = None
    ) -> list[ChatResponse]:
        """Cached `generate` (see `ChatBackend.generate`).

        Args:
            requests: the chats and their sampling parameters.
            on_result: called with (index, response) for hits at once, misses as they finish.

        Returns:
            One response per request, in request order; hits have `cached=True`.
        """
        return self._run(requests, self.backend.generate, ChatResponse, on_result)

    def choose(
        self, requests: Sequence[ChoiceRequest], *, on_result: ChoiceCallback | None = None
    ) -> list[ChoiceResponse]:
        """Cached `choose` (see `ChatBackend.choose`).

        Args:
            requests: the chats and their choices.
            on_result: called with (index, response) for hits at once, misses as they finish.

        Returns:
            One response per request, in request order; hits have `cached=True`.
        """
        return self._run(requests, self.backend.choose, ChoiceResponse, on_result)

    def close(self) -> None:
        """Close the inner backend and the cache connection."""
        self.backend.close()
        self.cache.close()

    def _run(self, requests: Sequence, call: Callable, response_type: type, on_result) -> list:
        model = self.fingerprint
        keys = [request_key(model, r) if is_cacheable(r) else None for r in requests]
        stored = self.cache.get_many(k for k in keys if k is not None)
        results: list[Any] = [None] * len(requests)
        todo: dict[str | int, list[int]] = {}
        for i, key in enumerate(keys):
            if key is not None and key in stored:
                results[i] = response_type(**{**stored[key], "cached": True})
                self.hits += 1
                if on_result is not None:
                    on_result(i, results[i])
            else:
                todo.setdefault(key if key is not None else i, []).append(i)
                self.misses += key is not None
                self.uncached += key is None
        if todo:
            self._fill(requests, keys, list(todo.values()), call, results, on_result)
        return results

    def _fill(self, requests, keys, groups, call, results, on_result) -> None:
        """Send one request per group (identical requests) to the inner backend."""
        model = self.fingerprint
        written: set[int] = set()

        def store(j: int, response: Any) -> None:
            first = groups[j][0]
            if keys[first] is not None and j not in written:
                fields = dataclasses.asdict(response)
                fields.pop("cached", None)
                self.cache.put(keys[first], request_payload(model, requests[first]), fields)
                written.add(j)
            for i in groups[j]:
                results[i] = dataclasses.replace(response, cached=False)
                if on_result is not None:
                    on_result(i, results[i])

        responses = call([requests[group[0]] for group in groups], on_result=store)
        for j, response in enumerate(responses):
            if results[groups[j][0]] is None:
                store(j, response)
