"""Answer 6: FreeAL against gold at the same labelled budget, the paired FreeAL options and
what the refinement rounds changed."""

from __future__ import annotations

import json
import statistics

from benchmark.case.records import Record
from benchmark.case.results import ModelScores
from benchmark.report.answer_context import AnswerContext, f1, f1_text, table_lines, tally
from benchmark.report.rows import reported_apart
from benchmark.report.significance import MULTIPLICITY_METHOD, Comparison, holm


def freeal_answer(ctx: AnswerContext) -> list[str]:
    """The lines of answer 6 (empty without FreeAL records)."""
    rows, closest, runs = [], None, []
    apart = [r for r in ctx.records if reported_apart(r)]
    gap_tests = holm([ctx.matched(r) if same_budget_f1(r) is not None else None for r in apart])
    for r, tested in zip(apart, gap_tests, strict=True):
        fa = r.freeal_spec or {}
        budget_f1 = same_budget_f1(r)
        gap = None if budget_f1 is None else f1(r) - budget_f1
        row = {
            "dataset": r.dataset,
            "lang": r.language,
            "model": r.model or "",
            "demos": fa.get("demo_source", ""),
            "clean": fa.get("clean_selection", ""),
            "consistency": fa.get("consistency", ""),
            "calibration": fa.get("calibration", "none"),
            "FreeAL small model": f1_text(r),
            "gold, same budget": "no gold demos" if budget_f1 is None else f"{budget_f1:.1f}",
            "gap": "-" if gap is None else f"{gap:+.1f}{_freeal_mark(tested)}",
        }
        rows.append(row)
        runs.append(r)
        if gap is not None and (closest is None or gap > closest[0]):
            closest = (gap, row)
    if not rows:
        return []
    words = []
    if closest:
        c = closest[1]
        words = [
            f"- {len(rows)} FreeAL run{'s' * (len(rows) > 1)}; the closest to gold at the same "
            f"labelled budget is {c['dataset']} {c['lang']} ({c['model']}, {c['clean']} clean "
            f"selection, {c['consistency']} consistency, calibration {c['calibration']}): "
            f"{c['FreeAL small model']} against {c['gold, same budget']}, {c['gap']}.",
        ]
    words += freeal_effects(ctx, runs) + refinement_line(runs) + [""]
    return words + table_lines(list(rows[0]), sorted(list(row.values()) for row in rows))


def freeal_effects(ctx: AnswerContext, records: list[Record]) -> list[str]:
    """FreeAL runs whose specs differ in one option only: mean difference, significant pairs."""
    pairs = []
    for option, with_value, without_value, name in FREEAL_EFFECTS:
        runs = {(freeal_option(r, option), alike_but(r, option)): r for r in records}
        for (value, rest), record in sorted(runs.items()):
            other = runs.get((without_value, rest))
            if value == with_value and other is not None:
                pairs.append((name, record, other))
    corrected = holm([ctx.compare(a, b) for _, a, b in pairs])
    parts = []
    for _, _, _, name in FREEAL_EFFECTS:
        items: list[Comparison | float] = [
            c if c else f1(a) - f1(b)
            for (pair_name, a, b), c in zip(pairs, corrected, strict=True)
            if pair_name == name
        ]
        if items:
            diffs, tested, ups, downs = tally(items)
            parts.append(
                f"{name} {statistics.fmean(diffs):+.1f} (significant gain in {ups}, "
                f"loss in {downs} of {len(items)} pair{'s' * (len(items) > 1)})"
            )
    if not parts:
        return []
    tests = sum(1 for c in corrected if c is not None)
    return [
        "- Paired FreeAL options (runs alike in everything else; mean Δ macro-F1; significance "
        f"after {MULTIPLICITY_METHOD} over the {tests} pairs): " + "; ".join(parts) + "."
    ]


FREEAL_EFFECTS = (  # (FreeAL spec option, with, without, name)
    ("calibration", "batch", "none", "batch calibration vs none"),
    (
        "clean_selection",
        "class_balanced",
        "reference",
        "class-balanced vs reference clean selection",
    ),
    ("consistency", "paraphrase", "backtranslation", "paraphrase vs back-translation consistency"),
    ("demo_source", "gold", "none", "gold demos vs none"),
    ("demo_source", "target_demos", "none", "generated demos vs none"),
    ("demo_source", "gold", "target_demos", "gold vs generated demos"),
    ("model", "qwen2.5-coder-1.5b", "smollm2-135m", "Qwen2.5-Coder-1.5B vs SmolLM2-135M annotator"),
)


def freeal_option(record: Record, option: str) -> str:
    """A FreeAL option's value, or the annotating LLM for `model` (calibration is `none` in
    records written before it existed)."""
    if option == "model":
        return record.model or ""
    return (record.freeal_spec or {}).get(option, "none" if option == "calibration" else "")


def alike_but(record: Record, option: str) -> str:
    """The record's whole spec without one FreeAL option (or the annotating LLM), nor its name,
    task file and engine threads/slots (hardware settings, not the method)."""
    rest = {k: v for k, v in record.method_spec.items() if not (option == k == "model")}
    freeal = {k: v for k, v in (record.freeal_spec or {}).items() if k != option}
    if freeal_option(record, "calibration") == "none":
        freeal.pop("calibration", None)  # absent and `none` are the same run
    return json.dumps({**rest, "freeal": freeal}, sort_keys=True, default=str)


def refinement_line(records: list[Record]) -> list[str]:
    """Per FreeAL seed: the final small model against its round-0 model (no test: a count)."""
    deltas = []
    for record in records:
        for seed in record.freeal_per_seed:
            rounds, final = seed.rounds or [], seed.final.macro_f1 if seed.final else None
            if len(rounds) > 1 and final is not None and rounds[0].test_macro_f1 is not None:
                deltas.append(final - rounds[0].test_macro_f1)
    if not deltas:
        return []
    lower = sum(d < -0.05 for d in deltas)
    higher = sum(d > 0.05 for d in deltas)
    return [
        f"- Refinement rounds (final small model minus its round-0 model, per FreeAL seed): "
        f"lower in {lower}, higher in {higher}, unchanged in {len(deltas) - lower - higher} of "
        f"{len(deltas)} seeds (mean Δ {statistics.fmean(deltas):+.1f} macro-F1)."
    ]


def _freeal_mark(comparison: Comparison | None) -> str:
    """`*` when significant, `?` for records written before FreeAL stored test predictions."""
    return "?" if comparison is None else comparison.mark


def same_budget_f1(record: Record) -> float | None:
    """Mean test macro-F1 of the small model trained on the gold demos a FreeAL run spent."""
    per_seed = record.freeal_per_seed
    values = [
        s.same_budget_reference.macro_f1
        for s in per_seed
        if isinstance(s.same_budget_reference, ModelScores)
    ]
    return statistics.fmean(values) if values and len(values) == len(per_seed) else None
