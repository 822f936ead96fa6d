"""What every answer of the leaderboard's opening reads: the current records indexed once
(gold rows by cell, generated rows by cell and variant), the paired tests against them, and the
small formatters the answers share (`benchmark.report.summary` and the modules beside it).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmark.case.records import Record
from benchmark.report.rows import is_baseline, reported_apart
from benchmark.report.significance import Comparison, compare_records, compare_with_matched_gold


def _variant(spec: dict[str, Any], key: str) -> str | None:
    value = spec.get(key)
    if isinstance(value, dict):
        return value.get("method") or "+".join(value.get("names", [])) or None
    if isinstance(value, (list, tuple)):
        return "+".join(value) or None
    return value or None


def cell(record: Record) -> tuple:
    """What must match for two generated rows to be compared."""
    return (
        record.dataset,
        record.language,
        record.model or "",
        record.samples_per_label,
        record.classifier_slug,
    )


def variants(spec: dict[str, Any]) -> tuple:
    return (_variant(spec, "selection"), _variant(spec, "augmentation"), _variant(spec, "gates"))


def f1(record: Record) -> float:
    return record.macro_f1


def f1_text(record: Record) -> str:
    """`mean ± std`; the std is over generation seeds when the case has several."""
    return f"{record.macro_f1:.1f} ± {record.macro_f1_spread:.1f}"


def signed(comparison: Comparison | None, fallback: float | None = None) -> str:
    if comparison is None:
        return "" if fallback is None else f"{fallback:+.1f}"
    return f"{comparison.diff:+.1f}{comparison.mark}"


def kept_text(record: Record) -> str:
    kept = record.kept_per_set
    return "" if kept is None else f"{kept[0]:.0f}/{kept[1]}"


def table_lines(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table's lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def detectable_text(tested: list[Comparison]) -> str:
    """`; detectable 3.2`: the median smallest difference its tests could detect (the noise a
    "within noise" stands for)."""
    if not tested:
        return ""
    return f"; detectable {statistics.median(c.detectable for c in tested):.1f}"


def tally(items: list[Comparison | float]) -> tuple[list[float], list[Comparison], int, int]:
    """Differences, the tested ones, and how many are significant gains and losses."""
    diffs = [c.diff if isinstance(c, Comparison) else c for c in items]
    tested = [c for c in items if isinstance(c, Comparison)]
    ups = sum(c.significant and c.diff > 0 for c in tested)
    downs = sum(c.significant and c.diff < 0 for c in tested)
    return diffs, tested, ups, downs


class AnswerContext:
    """The current records and their results folder, indexed once: every answer reads the same
    instance (the paired tests behind `compare` and `matched` are cached in `significance`)."""

    def __init__(self, records: list[Record], results_dir: Path | None):
        self.results_dir = Path(results_dir) if results_dir else None
        self.records = records
        self.gold = {
            (r.dataset, r.language, r.samples_per_label, r.classifier_slug): r
            for r in self.records
            if is_baseline(r) and not r.spec.get("augmentation")
        }
        self.generated: dict[tuple, dict[tuple, Record]] = defaultdict(dict)
        for r in self.records:
            if not is_baseline(r) and not reported_apart(r):
                self.generated[cell(r)][(r.setting, *variants(r.spec))] = r

    def compare(self, a: Record, b: Record) -> Comparison | None:
        return compare_records(self.results_dir, a, b) if self.results_dir else None

    def matched(self, record: Record) -> Comparison | None:
        if not self.results_dir:
            return None
        return compare_with_matched_gold(self.results_dir, record)

    def full_gold(self, record: Record) -> Record | None:
        key = (record.dataset, record.language, record.samples_per_label)
        return self.gold.get((*key, record.classifier_slug))
