"""Writing a set's candidates: `<name>.partial.jsonl` between rounds, `<name>` at the end."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from benchmark.case.records import write_text_atomic
from benchmark.generation.candidates import Candidate


def partial_name(name: str) -> str:
    """What a killed or failed generation leaves: "kept" there means "kept so far"."""
    return name.removesuffix(".jsonl") + ".partial.jsonl"


PARTIAL_FILE = partial_name("generated.jsonl")


def write_candidates(
    folder: Path,
    candidates: list[Candidate],
    *,
    setting: str,
    name: str = "generated.jsonl",
    partial: bool = False,
) -> None:
    """One JSON line per candidate (tagged with the case's `setting`); the final file removes
    the partial one."""
    rows = [json.dumps({**asdict(c), "strategy": setting}, ensure_ascii=False) for c in candidates]
    target = partial_name(name) if partial else name
    write_text_atomic(folder / target, "\n".join(rows) + ("\n" if rows else ""))
    if not partial:
        (folder / partial_name(name)).unlink(missing_ok=True)
