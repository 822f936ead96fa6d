"""`lowres-bench compare`: the paired bootstrap of two records (or of one against its matched
gold control) on the command line, for differences the leaderboard does not tabulate."""

from __future__ import annotations

from pathlib import Path

from benchmark.case.records import Record, as_record, load_record
from benchmark.errors import BenchError
from benchmark.report.significance import (
    Comparison,
    compare_records,
    compare_with_matched_gold,
    load_predictions,
)


class CompareError(BenchError, ValueError):
    """A case to compare that is missing, ambiguous or has no stored predictions."""


def find_record(results_dir: Path, name: str) -> Record:
    """The record whose case id is `name`, or the only one containing `name`."""
    exact = results_dir / f"{name}.json"
    if exact.is_file():
        return as_record(load_record(exact))
    found = sorted(p for p in results_dir.glob("*.json") if name in p.stem)
    if not found:
        raise CompareError(f"no record in {results_dir} has a case id containing {name!r}")
    if len(found) > 1:
        shown = "\n  ".join(p.stem for p in found[:8])
        more = f"\n  ... and {len(found) - 8} more" if len(found) > 8 else ""
        raise CompareError(
            f"{name!r} matches {len(found)} records; give more of the case id:\n  {shown}{more}"
        )
    return as_record(load_record(found[0]))


def _why_not(results_dir: Path, *records: Record) -> str:
    """Why a comparison of `records` came back empty."""
    for record in records:
        if load_predictions(results_dir, record) is None:
            return (
                f"{record.case_id} has no stored test predictions (written before records kept "
                "them): rerun it with --bench-overwrite (cached LLM calls make that fast)"
            )
    demos = (records[0].freeal_spec or {}).get("demo_source", "gold")
    if len(records) == 1 and demos != "gold":
        return (
            f"{records[0].case_id} spent no gold demos (demos: {demos}), so there is no gold at "
            "its labelled budget: compare it with another record (compare A B)"
        )
    if len(records) == 1:
        return f"{records[0].case_id} has no matched gold control to compare with"
    return "A and B were scored on different test splits or label sets"


def _line(what: str, c: Comparison) -> str:
    verdict = "significant" if c.significant else "within noise"
    p = "p < 0.0001" if c.p_value < 1e-4 else f"p = {c.p_value:.4f}"
    pairing = ", paired on the generation seed" if c.paired_on_generation_seed else ""
    return (
        f"{what}: {c.diff:+.1f} macro-F1, 95% interval [{c.low:+.1f}, {c.high:+.1f}], "
        f"{p} ({verdict}, one comparison, uncorrected; smallest detectable difference "
        f"{c.detectable:.1f}; {c.replicates} paired-bootstrap replicates over test items and "
        f"generation / FreeAL seeds{pairing})"
    )


def compare_text(results_dir: Path, a: str, b: str | None = None) -> str:
    """A minus B, or A minus its matched gold control (for FreeAL: gold at the same labelled
    budget) when B is None, as one line with the scores above it."""
    first = find_record(results_dir, a)
    lines = [f"A  {first.case_id}: {first.macro_f1:.1f}"]
    if b is None:
        comparison = compare_with_matched_gold(results_dir, first)
        if comparison is None:
            raise CompareError(_why_not(results_dir, first))
        control = (
            "gold at the same labelled budget" if first.freeal_spec else "its matched gold control"
        )
        return "\n".join([*lines, _line(f"A - {control}", comparison)])
    second = find_record(results_dir, b)
    lines.append(f"B  {second.case_id}: {second.macro_f1:.1f}")
    comparison = compare_records(results_dir, first, second)
    if comparison is None:
        raise CompareError(_why_not(results_dir, first, second))
    return "\n".join([*lines, _line("A - B", comparison)])
