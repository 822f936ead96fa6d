"""What the leaderboard and its figures read from a record: the row's variant, its gold
baseline and the gap to it, and the order of languages in tables."""

from __future__ import annotations

from typing import Any

from benchmark.case.records import Record, as_record
from benchmark.data.languages import resolve_language
from benchmark.settings import SETTINGS

LANGUAGE_ORDER = ("en", "de", "th", "he", "id", "sw", "ro", "az", "sl", "te", "cy")


def is_baseline(record: Record | dict[str, Any]) -> bool:
    """A row of the gold baseline setting (the reference of every gap)."""
    return _flag(as_record(record), "baseline")


def reported_apart(record: Record | dict[str, Any]) -> bool:
    """A row of a setting with its own report section (FreeAL), not the macro-F1 tables."""
    return _flag(as_record(record), "reported_apart")


def _flag(record: Record, attribute: str) -> bool:
    name = record.setting
    return name in SETTINGS and getattr(SETTINGS.get(name), attribute, False)


def _gold_index(records: list[Record] | list[dict[str, Any]]) -> dict[tuple, float]:
    typed = [as_record(r) for r in records]
    return {_cell_key(r): r.macro_f1 for r in typed if is_baseline(r)}


def _cell_key(record: Record) -> tuple:
    return (record.dataset, record.language, record.classifier_slug, record.samples_per_label)


def gap_to_gold(record: Record | dict[str, Any], gold: dict[tuple, float]) -> float | None:
    """F1 minus the matching gold F1 (None for gold rows or when no gold record exists)."""
    record = as_record(record)
    if is_baseline(record):
        return None
    base = gold.get(_cell_key(record))
    return None if base is None else record.macro_f1 - base


def variant(record: Record | dict[str, Any]) -> str:
    """Setting plus selection and augmentation: `target_demos + kcenter + aug:eda`."""
    spec = as_record(record).spec
    extras = [
        f"{prefix}{(spec.get(key) or {}).get('method')}"
        for key, prefix in (("selection", ""), ("augmentation", "aug:"))
        if spec.get(key)
    ]
    if spec.get("gates"):  # gated and ungated runs of a setting are separate rows
        extras.append("gate:" + "+".join(spec["gates"]["names"]))
    return " + ".join([spec["setting"], *extras])


# A generated set is "not in the language" when the share of its samples identified as the
# target language is below half of what the same measure gives on a gold sample of the case
# (real sentences: 0.96-1.0). Such a row answers nothing about the language: every table marks
# it and no answer names it closest or best.
OFF_LANGUAGE_FRACTION_OF_GOLD = 0.5


def off_language(record: Record | dict[str, Any]) -> str | None:
    """`not in Swahili: 1%` for a generated set mostly not in its target language, else None."""
    quality = as_record(record).quality or {}
    share, gold = quality.get("language_fidelity"), quality.get("gold_language_fidelity")
    if not isinstance(share, (int, float)):
        return None
    if share >= OFF_LANGUAGE_FRACTION_OF_GOLD * (gold if isinstance(gold, (int, float)) else 1.0):
        return None
    try:
        name = resolve_language(as_record(record).language).name
    except (KeyError, ValueError):
        name = as_record(record).language
    return f"not in {name}: {share:.0%}"
