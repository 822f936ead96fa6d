"""The leaderboard's opening: the study's questions answered in words and numbers.

Only current records answer (written with the present semantics: matched gold controls,
generation seeds, class-balanced classifiers); records of older semantics are superseded and
listed apart by the leaderboard. Differences carry a `*` when the paired bootstrap
(`benchmark.report.significance`) puts their 95% interval away from 0.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from benchmark.case.records import Record, as_record
from benchmark.report.arms_answer import arms_answer
from benchmark.report.rows import is_baseline, off_language, reported_apart
from benchmark.report.significance import (
    MULTIPLICITY_METHOD,
    Comparison,
    compare_records,
    compare_with_matched_gold,
    holm,
)
from benchmark.settings import SETTINGS

CURRENT_VERSION = 2


def revision_pairs() -> list[tuple[str, str]]:
    """(revised, base) setting names: every registered generation strategy with revision and
    the strategy that prompts the same way without it (built-in and plugin strategies alike)."""
    strategies = [
        strategy
        for name in SETTINGS.names()
        if (strategy := getattr(SETTINGS.get(name), "strategy", None)) is not None
    ]
    return [
        (revised.name, base.name)
        for revised in strategies
        if revised.revision
        for base in strategies
        if not base.revision
        and (base.demos, base.description) == (revised.demos, revised.description)
    ]


def is_superseded(record: Record | dict[str, Any]) -> bool:
    """A generated, augmented or FreeAL record written before matched controls and generation
    seeds (plain gold records of version 1 stay valid: their spec hash says how they were made)."""
    record = as_record(record)
    plain_gold = is_baseline(record) and not record.spec.get("augmentation")
    return record.record_version < CURRENT_VERSION and not plain_gold


def current(records: Iterable[Record | dict[str, Any]]) -> list[Record]:
    """The records that answer the questions (not superseded)."""
    return [r for r in map(as_record, records) if not is_superseded(r)]


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


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


class Answers:
    """Indexes the current records once and answers each question from them."""

    def __init__(self, records: list[Record] | list[dict[str, Any]], results_dir: Path | None):
        self.results_dir = Path(results_dir) if results_dir else None
        self.records = current(records)
        self.gold = {
            (r.dataset, r.language, r.samples_per_label, r.classifier_slug): r
            for r in self.records
            if is_baseline(r) and not r.spec.get("augmentation")
        }
        self.generated: dict[tuple, dict[tuple, Record]] = defaultdict(dict)
        self.effect_rows: list[list[str]] = []  # every effect of answers 2-5, for one table
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

    # -- question 1 -----------------------------------------------------------------------
    def closest_to_gold(self) -> list[str]:
        picked, skipped = [], []
        for key in sorted(self.generated):
            plain = {k[0]: r for k, r in self.generated[key].items() if k[1:] == (None,) * 3}
            if not plain or not next(iter(plain.values())).has_matched_gold:
                continue
            flagged = [r for r in plain.values() if off_language(r)]
            ranked = sorted(
                (r for r in plain.values() if not off_language(r)), key=f1, reverse=True
            )
            if ranked:
                picked.append((key, ranked, flagged))
            else:
                skipped.append(key)
        tests = holm(
            [
                c
                for _, ranked, _ in picked
                for c in (
                    self.matched(ranked[0]),
                    self.compare(ranked[0], ranked[1]) if len(ranked) > 1 else None,
                )
            ]
        )
        rows, words = [], []
        for i, (key, ranked, flagged) in enumerate(picked):
            versus, runner_up = tests[2 * i], tests[2 * i + 1]
            words.append(self._closest_words(key, ranked[0], versus, flagged))
            rows.append(self._closest_row(key, ranked, versus, runner_up))
        words += [
            f"- {d} {lang} ({m}, n={n}): every strategy wrote text not in the language; none is "
            "ranked."
            for d, lang, m, n, _ in skipped
        ]
        if not rows and not words:
            return ["No current generated records yet."]
        header = [
            "dataset",
            "lang",
            "model",
            "n",
            "best strategy",
            "macro-F1",
            "matched gold",
            "gap",
            "full gold",
            "kept",
            "vs runner-up",
        ]
        return words + [""] + _table(header, rows)

    def _closest_words(
        self, key: tuple, best: Record, versus: Comparison | None, flagged: list[Record]
    ) -> str:
        dataset, language, model, n, _ = key
        gold = self.full_gold(best)
        gap = versus.diff if versus else best.matched_gap
        verdict = (
            "not measurably different from"
            if versus and not versus.significant
            else ("above" if gap > 0 else "below")
        )
        line = (
            f"- {dataset} {language} ({model}, n={n}): `{best.setting}` is closest, "
            f"{f1(best):.1f} macro-F1, {abs(gap):.1f} points {verdict} gold with the same "
            f"per-label counts"
            + ("" if gold is None else f" and {f1(best) - f1(gold):+.1f} against full gold")
        )
        if flagged:
            names = ", ".join(f"`{r.setting}` ({off_language(r)})" for r in flagged)
            line += f"; not ranked, as their text is not in the language: {names}"
        return line + "."

    def _closest_row(
        self,
        key: tuple,
        ranked: list[Record],
        versus: Comparison | None,
        runner_up: Comparison | None,
    ) -> list[str]:
        dataset, language, model, n, _ = key
        best, gold = ranked[0], self.full_gold(ranked[0])
        return [
            dataset,
            language,
            model,
            str(n),
            best.setting,
            f1_text(best),
            f"{best.matched_gold_f1:.1f}",
            signed(versus, best.matched_gap),
            "" if gold is None else f"{f1(gold):.1f}",
            kept_text(best),
            "" if len(ranked) < 2 else f"{ranked[1].setting} {signed(runner_up)}",
        ]

    # -- questions 2-4: paired effects ----------------------------------------------------
    def effects(
        self, pick: Callable[[tuple, dict[tuple, dict]], Iterable[tuple[str, dict, dict]]]
    ) -> list[str]:
        """One row per effect name: mean difference, cells, significant gains and losses."""
        pairs = [
            (name, with_, without)
            for key in sorted(self.generated)
            for name, with_, without in pick(key, self.generated[key])
        ]
        corrected = holm([self.compare(with_, without) for _, with_, without in pairs])
        found: dict[str, list[Comparison | float]] = defaultdict(list)
        for (name, with_, without), comparison in zip(pairs, corrected, strict=True):
            found[name].append(comparison if comparison else f1(with_) - f1(without))
        rows, gains, losses, neutral = [], [], [], []
        for name, items in sorted(found.items()):
            diffs, tested, ups, downs = tally(items)
            mean = statistics.fmean(diffs)
            short = name.split(": ", 1)[-1]
            for bucket, hit in ((gains, ups), (losses, downs)):
                if hit:
                    bucket.append(
                        f"{short} ({mean:+.1f}; significant in {hit} of {len(items)} "
                        f"cell{'s' * (len(items) > 1)} after correction)"
                    )
            if not ups and not downs:
                neutral.append(f"{short} ({mean:+.1f}{detectable_text(tested)})")
            rows.append(
                [
                    name,
                    f"{mean:+.1f}",
                    f"{min(diffs):+.1f} .. {max(diffs):+.1f}",
                    str(len(items)),
                    f"{ups} / {downs} of {len(tested)}",
                ]
            )
        if not rows:
            return []
        cells = max(len(items) for items in found.values())
        tests = sum(1 for c in corrected if c is not None)
        words = [
            f"- {len(rows)} compared, over {cells} cell{'s' * (cells > 1)} (mean Δ macro-F1; "
            f"{MULTIPLICITY_METHOD} over the {tests} paired test{'s' * (tests != 1)} of this "
            "answer): "
            f"significant gains: {', '.join(gains) or 'none'}; "
            f"significant losses: {', '.join(losses) or 'none'}; "
            f"within noise: {', '.join(neutral) or 'none'}."
        ]
        self.effect_rows += rows
        return words

    @staticmethod
    def revision_pairs(key, rows):
        plain = {k[0]: r for k, r in rows.items() if k[1:] == (None,) * 3}
        for revised, base in revision_pairs():
            if revised in plain and base in plain:
                yield f"revision: {revised} vs {base}", plain[revised], plain[base]

    @staticmethod
    def variant_pairs(position: int, label: str):
        def pick(key, rows):
            for k, r in rows.items():
                if k[1 + position] is None:
                    continue
                base_key = list(k)
                base_key[1 + position] = None
                base = rows.get(tuple(base_key))
                if base is not None:
                    yield f"{label}: {k[1 + position]}", r, base

        return pick

    # -- every strategy (and every selector) against the others ---------------------------
    def pairwise(self) -> list[str]:
        """Per cell: one matrix over the plain strategies and one over each strategy's selectors
        with its unselected set; each ranked by macro-F1, a cell holds row minus column."""
        out: list[str] = []
        for key in sorted(self.generated):
            rows = self.generated[key]
            plain = {k[0]: r for k, r in rows.items() if k[1:] == (None,) * 3}
            groups = [("strategy", "strategy", plain)]
            for name, base in sorted(plain.items()):
                chosen = {
                    k[1]: r for k, r in rows.items() if k[0] == name and k[1] and not any(k[2:])
                }
                if chosen:
                    groups.append(
                        ("selector", f"selector on {name}", {"unselected": base, **chosen})
                    )
            for column, title, members in groups:
                if len(members) > 1:
                    out += self.matrix(key, column, title, members)
        return out

    def matrix(self, key: tuple, column: str, title: str, members: dict[str, Record]) -> list[str]:
        ranked = sorted(members.items(), key=lambda item: f1(item[1]), reverse=True)
        dataset, language, model, n, _ = key
        pairs = [(i, j) for i in range(len(ranked)) for j in range(i + 1, len(ranked))]
        tested = holm(
            [self.matched(r) for _, r in ranked]
            + [self.compare(ranked[i][1], ranked[j][1]) for i, j in pairs]
        )
        versus = dict(zip(pairs, tested[len(ranked) :], strict=True))
        rows = []
        for i, (name, record) in enumerate(ranked):
            flag = off_language(record)
            row = [
                str(i + 1),
                name + (f" ({flag})" if flag else ""),
                f1_text(record),
                signed(tested[i], record.matched_gap),
            ]
            for j, (_, other) in enumerate(ranked):
                row.append("" if j <= i else signed(versus[(i, j)], f1(record) - f1(other)))
            rows.append(row)
        numbers = [str(j + 1) for j in range(len(ranked))]
        head = f"{dataset} {language} ({model}, n={n}), by {title}:"
        return [
            head,
            "",
            *_table(["#", column, "macro-F1", "vs matched gold", *numbers], rows),
            "",
        ]

    # -- question 5 -----------------------------------------------------------------------
    def freeal(self) -> list[str]:
        rows, closest, runs = [], None, []
        apart = [r for r in self.records if reported_apart(r)]
        gap_tests = holm(
            [self.matched(r) if same_budget_f1(r) is not None else None for r in apart]
        )
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
        words += self.freeal_effects(runs) + refinement_line(runs) + [""]
        return words + _table(list(rows[0]), sorted(list(row.values()) for row in rows))

    def freeal_effects(self, records: list[Record]) -> list[str]:
        """FreeAL runs whose specs differ in one option only: mean difference, significant pairs."""
        pairs = []
        for option, with_value, without_value, name in FREEAL_EFFECTS:
            runs = {(freeal_option(r, option), alike_but(r, option)): r for r in records}
            for (value, rest), record in sorted(runs.items()):
                other = runs.get((without_value, rest))
                if value == with_value and other is not None:
                    pairs.append((name, record, other))
        corrected = holm([self.compare(a, b) for _, a, b in pairs])
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
)


def freeal_option(record: Record, option: str) -> str:
    """A FreeAL option's value (calibration is `none` in records written before it existed)."""
    return (record.freeal_spec or {}).get(option, "none" if option == "calibration" else "")


def alike_but(record: Record, option: str) -> str:
    """The record's whole spec without one FreeAL option, nor its name and task file."""
    rest = {k: v for k, v in record.spec.items() if k not in ("case_id", "source", "marks")}
    freeal = {k: v for k, v in (record.freeal_spec or {}).items() if k != option}
    if freeal_option(record, "calibration") == "none":
        freeal.pop("calibration", None)  # absent and `none` are the same run
    return json.dumps({**rest, "freeal": freeal}, sort_keys=True, default=str)


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


def refinement_line(records: list[Record]) -> list[str]:
    """Per FreeAL seed: the final small model against its round-0 model (no test: a count)."""
    deltas = []
    for record in records:
        for seed in record.freeal_per_seed:
            rounds, final = seed.get("rounds") or [], (seed.get("final") or {}).get("macro_f1")
            if len(rounds) > 1 and final is not None and "test_macro_f1" in rounds[0]:
                deltas.append(final - rounds[0]["test_macro_f1"])
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
        s["same_budget_reference"]["macro_f1"]
        for s in per_seed
        if isinstance(s.get("same_budget_reference"), dict)
    ]
    return statistics.fmean(values) if values and len(values) == len(per_seed) else None


NO_ARMS = "- No record has arms yet (`lowres-bench arms` adds them to finished generated records)."
NOT_MEASURED = (
    "- Not measured with the current semantics yet: no current record pairs the rows this needs "
    '(older records are in the superseded section; README, "Measured", lists what is pending).'
)


def summary_markdown(
    records: list[Record] | list[dict[str, Any]], results_dir: Path | None = None
) -> str:
    """The opening section of the leaderboard (empty when no current record answers)."""
    answers = Answers(records, results_dir)
    if not answers.records:
        return ""
    out = [
        "## Answers",
        "",
        "Generated rows: mean ± std over generation seeds (each set scored with every classifier "
        "seed). *matched gold* is the same classifier trained on gold data with exactly the "
        "generated set's per-label counts and the same seeds; *full gold* takes up to n per label. "
        "Differences come from a paired bootstrap over test items, generation seeds and gold "
        "draws (paired on the generation seed where both sides share a generated stream); `*` "
        f"marks a difference that stays significant (5%) after {MULTIPLICITY_METHOD} correction "
        "within its family: the comparisons of one answer (answer 1: its table; each strategy "
        "matrix below: its own). Unmarked differences are within the measured noise; "
        "*detectable* is the smallest difference those tests would find with 80% power. Answers "
        "2-5 count in how many cells an effect is significant after correction. A row whose text "
        "is mostly not in the target language (language fidelity below half of a gold sample's) "
        "is marked `not in <language>` and never named closest or best.",
        "",
        "**0. Does generated data help?** (per generated case, the same classifier and seeds "
        "on the gold demos the generator saw alone, on the generated set, on both together and "
        "on gold at up to n per label; A - B in macro-F1)",
        "",
        *(arms_answer(answers.records, answers.results_dir) or [NO_ARMS]),
        "",
        "**1. Which strategy comes closest to gold?** (best strategy per dataset, language and "
        "model; gap = strategy minus matched gold)",
        "",
        *answers.closest_to_gold(),
    ]
    sections = (
        ("**2. Does revision help?**", answers.effects(answers.revision_pairs)),
        (
            "**3. Does selection help?** (each method vs the unselected set of the same strategy)",
            answers.effects(answers.variant_pairs(0, "selection")),
        ),
        (
            "**4. Does augmentation help?** (generated + augmented demos vs generated alone)",
            answers.effects(answers.variant_pairs(1, "augmentation")),
        ),
        (
            "**5. Do quality gates help?** (gated vs ungated generation)",
            answers.effects(answers.variant_pairs(2, "gates")),
        ),
        (
            "**6. FreeAL vs gold at the same labelled budget** (final small model; gold = the "
            "same small model trained on the labelled examples the run spent; `*`: the gap's 95% "
            "paired-bootstrap interval over test items and FreeAL seeds excludes 0, `?`: not "
            "tested, the record has no stored test predictions; `no gold demos`: the LLM's demos "
            "were generated or absent, so the run spent no gold demos to match: compare it with "
            "the gold-demo row of its cell)",
            answers.freeal(),
        ),
    )
    for title, lines in sections:
        out += ["", title, "", *(lines or [NOT_MEASURED])]
    if answers.effect_rows:
        header = ["effect", "mean Δ macro-F1", "range", "cells", "significant + / -"]
        out += [
            "",
            "<details><summary>Every comparison behind answers 2-5</summary>",
            "",
            *_table(header, answers.effect_rows),
            "",
            "</details>",
        ]
    pairwise = answers.pairwise()
    if pairwise:
        out += [
            "",
            "<details><summary>Every strategy and every selector against the others</summary>",
            "",
            "Row minus column in macro-F1, rows ranked best first; `*`: significant.",
            "",
            *pairwise,
            "</details>",
        ]
    return "\n".join(out) + "\n"
