"""Move response-cache rows between machines: export to gzipped JSON lines, import them back.

A long case that cannot finish on one machine (or in one session) resumes on another from the
exported rows: every request already answered is served from the cache, so the rerun makes only
the calls that are still missing and writes the same record. Each line holds one row of the
`responses` table; on import the key is recomputed from the stored request, so a line that was
edited (or belongs to another key version) is refused, naming the file and line.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from benchmark.errors import ResponseCacheError
from benchmark.llm.cache import KEY_VERSION, ResponseCache

_FIELDS = ("key", "kind", "model", "request", "response", "created")


def parse_since(text: str | None) -> float | None:
    """A lower bound on `created`: unix seconds or an ISO date/time (UTC if no zone), or None."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ResponseCacheError(
            f"--since {text!r}: expected unix seconds or an ISO time such as 2026-12-08T01:40"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def export_rows(
    cache: ResponseCache, out: Path, *, since: float | None = None, model: str | None = None
) -> int:
    """Write the cache rows created at or after `since` (and whose model contains `model`).

    The file is written beside `out` and renamed into place, so a killed export leaves no
    half-written file under the final name.

    Returns:
        The number of rows written.
    """
    rows = cache.rows_since(since or 0.0)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    written = 0
    with gzip.open(partial, "wt", encoding="utf-8") as handle:
        for row in rows:
            record = dict(zip(_FIELDS, row, strict=True))
            if model and model not in record["model"]:
                continue
            handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
            written += 1
    partial.replace(out)
    return written


def _checked_row(source: Path, number: int, line: str) -> tuple:
    where = f"{source}, line {number}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise ResponseCacheError(f"{where}: not JSON ({err.msg})") from None
    if not isinstance(record, dict) or set(record) != set(_FIELDS):
        raise ResponseCacheError(f"{where}: expected an object with the fields {list(_FIELDS)}")
    if not all(isinstance(record[f], str) for f in _FIELDS[:-1]) or not isinstance(
        record["created"], (int, float)
    ):
        raise ResponseCacheError(f"{where}: expected text fields and a numeric 'created'")
    if hashlib.sha256(record["request"].encode()).hexdigest() != record["key"]:
        raise ResponseCacheError(
            f"{where}: the key does not match its request (edited, or not a key of version "
            f"{KEY_VERSION})"
        )
    try:
        json.loads(record["response"])
    except json.JSONDecodeError:
        raise ResponseCacheError(f"{where}: 'response' is not JSON text") from None
    return tuple(record[f] for f in _FIELDS)


def import_rows(cache: ResponseCache, source: Path) -> tuple[int, int]:
    """Add the rows of an export to the cache; rows whose key is already there are kept as they are.

    Every line is checked before anything is written, so a bad file changes nothing.

    Returns:
        (rows read, rows added).
    """
    if not source.is_file():
        raise ResponseCacheError(f"{source}: no such file")
    try:
        with gzip.open(source, "rt", encoding="utf-8") as handle:
            lines = [line for line in handle if line.strip()]
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise ResponseCacheError(f"{source}: not a gzipped export of the cache ({err})") from None
    rows = [_checked_row(source, n, line) for n, line in enumerate(lines, 1)]
    before = len(cache)

    cache.add_rows(rows)
    return len(rows), len(cache) - before
