"""Tests for benchmark.generation.labels (descriptions cover every label in the data)."""

from __future__ import annotations

import csv

import pytest

from benchmark.data.loaders import DATASETS
from benchmark.generation.labels import (
    STUDY_INTENTS,
    human_description,
    human_descriptions,
    readable_label,
    undescribed_labels,
)
from benchmark.paths import default_data_dir

BUILT_IN = ("massive10", "massive60", "sib200", "sentiment")


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
    assert set(human_descriptions("massive60")) == _labels("massive/*.tsv", "intent")


def test_every_sib200_topic_is_described():
    assert set(human_descriptions("sib200")) == _labels("sib200/*.tsv", "category")


def test_tables_and_study_subset():
    assert list(human_descriptions("massive10")) == list(STUDY_INTENTS)
    assert set(human_descriptions("sentiment")) == {"positive", "negative"}
    assert len(human_descriptions("massive60")) == 60 and len(human_descriptions("sib200")) == 7


def test_every_built_in_dataset_describes_every_label_it_declares():
    for name in BUILT_IN:
        labels = DATASETS.get(name).labels or sorted(DATASETS.get(name).known_labels())
        assert undescribed_labels(name, labels) == [], name


def test_descriptions_are_single_sentences():
    for table in map(human_descriptions, BUILT_IN):
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
