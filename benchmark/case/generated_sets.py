"""The generated-set files beside a record, and whether two records drew the same stream.

Two cases share a generated stream when, for every generation seed both have, the first-round
candidates of one are contained in the other's: revision vs none (the reviser sees the same
candidates), a selector vs the unselected set (it picks from a larger pool of the same stream),
gates and augmentation on a cached stream. Only such pairs may be paired on the generation seed;
different strategies, or a rerun whose generator answered differently, draw independent streams.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

Stream = frozenset[tuple[str, str]]


def seeded_files(folder: Path) -> dict[int, Path]:
    """Generation seed -> its finished set file: `generated-seed<g>.jsonl`, or a lone
    `generated.jsonl` as seed 0."""
    seeded = {
        int(p.stem.removeprefix("generated-seed")): p
        for p in folder.glob("generated-seed*.jsonl")
        if ".partial" not in p.name
    }
    single = folder / "generated.jsonl"
    return dict(sorted(seeded.items())) or ({0: single} if single.is_file() else {})


def generated_files(folder: Path, sets: int = 1) -> list[Path]:
    """A case's `sets` generated sets: `generated.jsonl`, or one `generated-seed<g>.jsonl` per
    generation seed (in seed order)."""
    if sets == 1:
        single = folder / "generated.jsonl"
        return [single] if single.is_file() else []
    return [p for p in seeded_files(folder).values() if p.name != "generated.jsonl"]


def read_rows(path: Path) -> list[dict]:
    """Every row of a generated-set file (kept, surplus, rejected, unselected, ...)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@functools.lru_cache(maxsize=1024)
def _first_round(path: Path, mtime_ns: int) -> Stream:
    return frozenset((r["label"], r["text"]) for r in read_rows(path) if r.get("round", 0) == 0)


def first_round_streams(folder: Path) -> dict[int, Stream]:
    """Generation seed -> the (label, text) of every first-round candidate of that set, whatever
    became of it (kept, surplus, rejected, unselected)."""
    return {g: _first_round(p, p.stat().st_mtime_ns) for g, p in seeded_files(folder).items()}


def share_stream(folder_a: Path, folder_b: Path) -> bool | None:
    """Whether two cases drew the same generated stream (see the module docstring); None when
    either has no generated files (gold or FreeAL records: their seeds are the pairing unit)."""
    a, b = first_round_streams(folder_a), first_round_streams(folder_b)
    common = a.keys() & b.keys()
    if not a or not b or not common:
        return None
    return all(a[g] and b[g] and (a[g] <= b[g] or b[g] <= a[g]) for g in common)
