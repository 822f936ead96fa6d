"""Answer 0: does generated data help? Each generated case's arms (the gold demos the generator
saw, alone; the generated set; both together; gold at up to n per label) side by side, with
paired-bootstrap differences corrected with Holm-Bonferroni over the whole answer.

Arms of one case share the test split, the classifier seeds and (generated, demos, both) the
generation seeds, so their comparisons pair on the generation seed; the gold arm's draws are
resampled like generated sets.

`arm_rows` runs the bootstraps; the leaderboard builds the rows once per rebuild and hands them
to both `arms_short` (its opening) and `arms_answer` (answer 0).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.case.records import Record
from benchmark.report.answer_context import table_lines
from benchmark.report.rows import off_language, variant
from benchmark.report.significance import (
    MULTIPLICITY_METHOD,
    Comparison,
    holm,
    load_predictions,
    paired_bootstrap,
)

# (name, arm A, arm B): the differences the answer tests, A minus B.
ARM_TESTS = (
    ("generated - demos", "generated", "demos"),
    ("demos+generated - demos", "demos_plus_generated", "demos"),
    ("generated - gold", "generated", "gold"),
    ("demos+generated - gold", "demos_plus_generated", "gold"),
)


@dataclass
class ArmRow:
    """One generated case's arms and the tested differences between them."""

    record: Record
    tests: list[Comparison | None]

    def f1(self, arm: str) -> float | None:
        found = self.record.arms.arm(arm) if self.record.arms else None
        value = found.macro_f1_mean if found else None
        return value if isinstance(value, (int, float)) else None


def arm_runs(results_dir: Path, record: Record) -> dict[str, Any] | None:
    """Test predictions by arm (plus `gold` labels and `labels`), or None when not stored."""
    stored = load_predictions(results_dir, record)
    path = record.arms.predictions if record.arms else None
    if not stored or not path:
        return None
    try:
        arms = json.loads((Path(results_dir) / path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {
        "generated": stored["runs"],
        "matched_gold": stored.get("matched_gold") or [],
        **arms,
        "_gold_labels": stored["gold"],
        "_n_labels": len(stored["labels"]),
    }


def arm_rows(records: list[Record], results_dir: Path | None) -> list[ArmRow]:
    """Every record with arms, its tests corrected with Holm over every arm test of the same
    size (samples per label): one family per size, as each size asks its own question."""
    with_arms = [r for r in records if r.arms]
    raw: list[Comparison | None] = []
    for record in with_arms:
        runs = arm_runs(results_dir, record) if results_dir else None
        for _, a, b in ARM_TESTS:
            if not runs or not runs.get(a) or not runs.get(b):
                raw.append(None)
                continue
            raw.append(paired_bootstrap(runs[a], runs[b], runs["_gold_labels"], runs["_n_labels"]))
    k = len(ARM_TESTS)
    corrected: list[Comparison | None] = [None] * len(raw)
    for size in {r.samples_per_label for r in with_arms}:
        members = [i for i, r in enumerate(with_arms) if r.samples_per_label == size]
        slots = [i * k + j for i in members for j in range(k)]
        for slot, test in zip(slots, holm([raw[s] for s in slots]), strict=True):
            corrected[slot] = test
    rows = [ArmRow(r, corrected[i * k : (i + 1) * k]) for i, r in enumerate(with_arms)]
    return sorted(
        rows,
        key=lambda row: (
            -row.record.samples_per_label,
            row.record.dataset,
            row.record.language,
            row.record.setting,
            row.record.case_id,
        ),
    )


def _diff(test: Comparison | None, fallback: float | None) -> str:
    if test is None:
        return "" if fallback is None else f"{fallback:+.1f}"
    return f"{test.diff:+.1f}{test.mark}"


def _verdict(test: Comparison | None) -> str:
    if test is None:
        return "untested"
    if test.significant:
        return "significant"
    return f"within noise, detectable {test.detectable:.1f}"


def _sets(record: Record) -> int:
    return len(record.scores.by_generation_seed or []) or 1


def row_words(row: ArmRow) -> str:
    """One line: the arms' scores and what the two practical comparisons say."""
    r, f = row.record, row.f1
    flag = off_language(r)
    plus_demos, versus_gold = row.tests[1], row.tests[2]
    text = (
        f"- {r.dataset} {r.language} `{r.setting}` ({r.model}, n={r.samples_per_label}, "
        f"{_sets(r)} generated set{'' if _sets(r) == 1 else 's'}): demos alone {f('demos'):.1f}, generated "
        f"{f('generated'):.1f}, demos + generated {f('demos_plus_generated'):.1f}, gold "
        f"{f('gold'):.1f}. Adding the generated data to the demos: "
        f"{_diff(plus_demos, None)} ({_verdict(plus_demos)}); generated vs gold: "
        f"{_diff(versus_gold, None)} ({_verdict(versus_gold)})."
    )
    return text + (
        f" Caution: {flag}; this row answers nothing about the language." if flag else ""
    )


MAX_WORDS = 8  # rows described in words; more are summarised in one line and the table


def demos_per_label(record: Record) -> int:
    """The gold demos per label the generator saw (what the `demos` arm holds)."""
    return int((record.spec.get("generation") or {}).get("demos_per_label", 10))


def plain(record: Record) -> bool:
    """A strategy as generated: no selection, augmentation or gates."""
    return not any(record.spec.get(k) for k in ("selection", "augmentation", "gates"))


def tally_words(rows: list[ArmRow]) -> str:
    """How often each practical comparison is a significant gain, loss or within noise."""
    parts = []
    for i, (name, _, _) in enumerate(ARM_TESTS):
        tests = [row.tests[i] for row in rows if row.tests[i] is not None]
        if not tests:
            continue
        ups = sum(t.significant and t.diff > 0 for t in tests)
        downs = sum(t.significant and t.diff < 0 for t in tests)
        mean = statistics.fmean(t.diff for t in tests)
        parts.append(
            f"{name}: mean {mean:+.1f}, significant gain in {ups}, loss in {downs}, within noise "
            f"in {len(tests) - ups - downs} of {len(tests)}"
        )
    in_language = sum(off_language(row.record) is None for row in rows)
    return (
        f"- Over {len(rows)} strategy row{'s' * (len(rows) != 1)} at "
        f"n={rows[0].record.samples_per_label} "
        f"({len(rows) - in_language} not in their language): " + "; ".join(parts) + "."
    )


def plain_at(rows: list[ArmRow], size: int) -> list[ArmRow]:
    """The plain strategy rows at one size, in-language rows first."""
    chosen = [row for row in rows if row.record.samples_per_label == size and plain(row.record)]
    return sorted(chosen, key=lambda row: off_language(row.record) is not None)


def arms_answer(rows: list[ArmRow]) -> list[str]:
    """The lines of answer 0 from `arm_rows` (empty when no record has arms)."""
    if not rows:
        return []
    largest = rows[0].record.samples_per_label
    tested = [t for row in rows for t in row.tests if t is not None]
    at_largest = [
        t for row in rows if row.record.samples_per_label == largest for t in row.tests if t
    ]
    sizes = sorted({row.record.samples_per_label for row in rows}, reverse=True)
    tallies = [tally_words(chosen) for chosen in (plain_at(rows, n) for n in sizes) if chosen]
    top = plain_at(rows, largest)
    named = [row_words(row) for row in top] if len(top) <= MAX_WORDS else []
    words = tallies[:1] + named + tallies[1:]  # the largest size's rows under its tally
    detect = statistics.median(t.detectable for t in at_largest) if at_largest else None
    header = [
        "dataset",
        "lang",
        "strategy",
        "model",
        "n",
        "sets",
        "demos",
        "generated",
        "demos + gen.",
        "gold",
        "matched gold",
        *(name for name, _, _ in ARM_TESTS),
        "language",
    ]
    table = []
    for row in rows:
        r, f = row.record, row.f1
        table.append(
            [
                r.dataset,
                r.language,
                variant(r),
                r.model or "",
                str(r.samples_per_label),
                str(_sets(r)),
                *(
                    "" if f(arm) is None else f"{f(arm):.1f}"
                    for arm in ("demos", "generated", "demos_plus_generated", "gold")
                ),
                "" if f("matched_gold") is None else f"{f('matched_gold'):.1f}",
                *(
                    _diff(t, None if f(a) is None or f(b) is None else f(a) - f(b))
                    for t, (_, a, b) in zip(row.tests, ARM_TESTS, strict=True)
                ),
                off_language(r) or "ok",
            ]
        )
    intro = (
        f"Largest size measured: n={largest} per label. {len(tested)} paired tests, "
        f"{MULTIPLICITY_METHOD}-corrected within each size (n={largest}: "
        f"{len(at_largest)} tests)"
        + (f"; median detectable difference {detect:.1f} macro-F1" if detect is not None else "")
        + ". *demos*: the gold demos the generator saw (10 per label), alone; *gold*: up to n "
        "gold per label (the study's comparison)."
    )
    lines = table_lines(header, table)
    return [intro, "", *words, "", *lines]


def arms_short(rows: list[ArmRow]) -> str | None:
    """The leaderboard's opening lines from `arm_rows`: at the largest size with arms, does
    generated data beat the demos it came from, and how far is it from gold (None without
    arms)."""
    if not rows:
        return None
    largest = rows[0].record.samples_per_label
    top = plain_at(rows, largest)
    if not top:
        return None
    intro = (
        f"**Does generated data help?** At n={largest} per label (the largest size measured), "
        "each generated set against the 10 gold demos per label it was written from (*demos*), "
        f"both together, and gold at up to n per label; `*`: significant after "
        f"{MULTIPLICITY_METHOD} over every arm test at this size (answer 0)."
        + (
            f" At n={largest} the gold arm is the same kind of set as the demos (gold at that"
            " size, other draws: one per classifier seed), so only the study-size runs (n=100"
            " from 10 demos) separate the two questions."
            if largest <= demos_per_label(top[0].record)
            else ""
        )
    )
    lines = [tally_words(top)] + [row_words(row) for row in top[:MAX_WORDS]]
    if len(top) > MAX_WORDS:
        lines.append(f"- ... and {len(top) - MAX_WORDS} more rows in answer 0 below.")
    return "\n".join([intro, "", *lines])
