"""The leaderboard's opening: the study's questions answered in words and numbers.

Only current records answer (written with the present semantics: matched gold controls,
generation seeds, class-balanced classifiers); records of older semantics are superseded and
listed apart by the leaderboard. Differences carry a `*` when the paired bootstrap
(`benchmark.report.significance`) puts their 95% interval away from 0.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from benchmark.case.records import Record, as_record
from benchmark.report.answer_context import (
    AnswerContext,
    detectable_text,
    f1,
    f1_text,
    kept_text,
    signed,
    table_lines,
    tally,
)
from benchmark.report.arms_answer import ArmRow, arm_rows, arms_answer
from benchmark.report.freeal_answers import freeal_answer
from benchmark.report.rows import is_baseline, off_language
from benchmark.report.significance import MULTIPLICITY_METHOD, Comparison, holm
from benchmark.report.strategy_matrices import pairwise
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


class Answers(AnswerContext):
    """Answers 1-5 from the current records; answer 6 (`freeal_answer`) and the matrices
    (`pairwise`) read the same object, answer 0 (`arms_answer`) its `arm_rows`."""

    def __init__(self, records: list[Record] | list[dict[str, Any]], results_dir: Path | None):
        super().__init__(current(records), results_dir)
        self.effect_rows: list[list[str]] = []  # every effect of answers 2-5, for one table

    # -- answer 1 -----------------------------------------------------------------------
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
        return words + [""] + table_lines(header, rows)

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

    # -- answers 2-5: paired effects ----------------------------------------------------
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


NO_ARMS = "- No record has arms yet (`lowres-bench arms` adds them to finished generated records)."
NOT_MEASURED = (
    "- Not measured with the current semantics yet: no current record pairs the rows this needs "
    '(older records are in the superseded section; README, "Measured", lists what is pending).'
)


INTRO = (
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
    "is marked `not in <language>` and never named closest or best."
)


def numbered_answers(answers: Answers) -> list[tuple[str, list[str]]]:
    """(title, lines) of answers 2-6, in order (answers 2-5 fill `answers.effect_rows`)."""
    return [
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
            "same small model trained on the labelled examples the run spent; `*`: the gap is "
            "significant after Holm-Bonferroni over the answer's gaps (paired bootstrap over "
            "test items and FreeAL seeds), `?`: not "
            "tested, the record has no stored test predictions; `no gold demos`: the LLM's demos "
            "were generated or absent, so the run spent no gold demos to match: compare it with "
            "the gold-demo row of its cell)",
            freeal_answer(answers),
        ),
    ]


def folded_details(answers: Answers) -> list[str]:
    """The folded tables after the answers: every effect of answers 2-5 (once they ran) and
    every strategy and selector matrix."""
    out: list[str] = []
    if answers.effect_rows:
        header = ["effect", "mean Δ macro-F1", "range", "cells", "significant + / -"]
        out += [
            "",
            "<details><summary>Every comparison behind answers 2-5</summary>",
            "",
            *table_lines(header, answers.effect_rows),
            "",
            "</details>",
        ]
    matrices = pairwise(answers)
    if matrices:
        out += [
            "",
            "<details><summary>Every strategy and every selector against the others</summary>",
            "",
            "Row minus column in macro-F1, rows ranked best first; `*`: significant.",
            "",
            *matrices,
            "</details>",
        ]
    return out


def summary_markdown(
    records: list[Record] | list[dict[str, Any]],
    results_dir: Path | None = None,
    arms: list[ArmRow] | None = None,
) -> str:
    """The opening section of the leaderboard (empty when no current record answers).

    Args:
        records: the records (superseded ones are left out here).
        results_dir: folder of the records and their stored predictions (None: no tests).
        arms: `arm_rows` of the current records when the caller built them already (the
            leaderboard shares them with its opening lines); None builds them here.
    """
    answers = Answers(records, results_dir)
    if not answers.records:
        return ""
    if arms is None:
        arms = arm_rows(answers.records, answers.results_dir)
    out = [
        "## Answers",
        "",
        INTRO,
        "",
        "**0. Does generated data help?** (per generated case, the same classifier and seeds "
        "on the gold demos the generator saw alone, on the generated set, on both together and "
        "on gold at up to n per label; A - B in macro-F1)",
        "",
        *(arms_answer(arms) or [NO_ARMS]),
        "",
        "**1. Which strategy comes closest to gold?** (best strategy per dataset, language and "
        "model; gap = strategy minus matched gold)",
        "",
        *answers.closest_to_gold(),
    ]
    for title, lines in numbered_answers(answers):
        out += ["", title, "", *(lines or [NOT_MEASURED])]
    return "\n".join(out + folded_details(answers)) + "\n"
