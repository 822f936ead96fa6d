"""Tests for benchmark.generation.labels (descriptions cover every label in the data)."""

from __future__ import annotations

import csv

import pytest

from benchmark.generation.labels import (
    HUMAN_DESCRIPTIONS,
    STUDY_INTENTS,
    human_description,
    readable_label,
)
from benchmark.paths import default_data_dir


def _labels(pattern: str, column: str) -> set[str]:
    files = sorted(default_data_dir().glob(pattern))
    if not files:
        pytest.skip(f"no data files {pattern} under {default_data_dir()}")
    labels: set[str] = set()
    for path in files:
        with path.open(encoding="utf-8", newline="") as handle:
            labels |= {row[column] for row in csv.DictReader(handle, delimiter="\t")}
    return labels


def test_every_massive_intent_is_described():
    assert set(HUMAN_DESCRIPTIONS["massive60"]) == _labels("massive/*.tsv", "intent")


def test_every_sib200_topic_is_described():
    assert set(HUMAN_DESCRIPTIONS["sib200"]) == _labels("sib200/*.tsv", "category")


def test_tables_and_study_subset():
    assert set(HUMAN_DESCRIPTIONS) == {"massive10", "massive60", "sib200", "sentiment"}
    assert list(HUMAN_DESCRIPTIONS["massive10"]) == list(STUDY_INTENTS)
    assert set(HUMAN_DESCRIPTIONS["sentiment"]) == {"positive", "negative"}
    assert len(HUMAN_DESCRIPTIONS["massive60"]) == 60 and len(HUMAN_DESCRIPTIONS["sib200"]) == 7


def test_descriptions_are_single_sentences():
    for table in HUMAN_DESCRIPTIONS.values():
        for label, description in table.items():
            assert description.endswith("."), label
            assert description.count(". ") == 0, label
            assert 20 < len(description) < 200, label


def test_human_description_lookup_and_errors():
    assert "alarm" in human_description("massive10", "alarm_query")
    with pytest.raises(KeyError, match="known"):
        human_description("massive10", "alarm_set")
    with pytest.raises(KeyError, match="sib200"):
        human_description("nope", "x")


@pytest.mark.parametrize(
    ("label", "readable"),
    [
        ("alarm_query", "alarm query"),
        ("science/technology", "science/technology"),
        ("iot_hue_lightchange", "iot hue lightchange"),
        ("alarm query", "alarm query"),
        ("positive", "positive"),
    ],
)
def test_readable_label(label, readable):
    assert readable_label(label) == readable
