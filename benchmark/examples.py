"""The data model below every loader: label sets, `Example`, `Split` and the labels a dataset's
files may hold (so `benchmark.data` and `benchmark.hub` share them without importing each other)."""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from dataclasses import dataclass

SPLITS = ("train", "dev", "test")
MASSIVE10_INTENTS = (
    "alarm_query",
    "audio_volume_down",
    "calendar_remove",
    "cooking_recipe",
    "datetime_convert",
    "email_sendemail",
    "play_audiobook",
    "recommendation_movies",
    "transport_ticket",
    "weather_query",
)
SIB200_TOPICS = (
    "entertainment",
    "geography",
    "health",
    "politics",
    "science/technology",
    "sports",
    "travel",
)
SENTIMENT_LABELS = ("negative", "positive")
DATASETS = ("massive10", "massive60", "sib200", "sentiment")
# Local TSV columns: (uid, label, text) per dataset family, in the order of SOURCES.md.
TSV_COLUMNS = {
    "massive": ("id", "partition", "intent", "text"),
    "sib200": ("index_id", "category", "text"),
}


class LeakageError(RuntimeError):
    """Test-split data was about to reach training data or a prompt."""


@dataclass(frozen=True)
class Example:
    """One labelled text. `uid` is unique within a dataset/language; `split` says where it came from."""

    text: str
    label: str
    uid: str
    split: str


@dataclass(frozen=True)
class Split:
    """All examples of one dataset x language x split."""

    dataset: str
    language: str
    split: str
    examples: tuple[Example, ...]
    fingerprint: str

    @property
    def label_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(e.label for e in self.examples).items()))

    def by_label(self) -> dict[str, list[Example]]:
        groups: dict[str, list[Example]] = defaultdict(list)
        for example in self.examples:
            groups[example.label].append(example)
        return dict(groups)


@functools.lru_cache(maxsize=1)
def massive_intents() -> frozenset[str]:
    """The 60 MASSIVE intents (the keys of the packaged human label descriptions)."""
    from importlib import resources

    import yaml

    text = resources.files("benchmark").joinpath("resources", "label_descriptions.yaml")
    return frozenset(str(k) for k in yaml.safe_load(text.read_text("utf-8"))["massive60"])


def known_labels(dataset: str) -> frozenset[str] | None:
    """Every label a dataset's files may hold (None: not checked, e.g. hub-only sets)."""
    if dataset.startswith("massive"):
        return massive_intents()
    if dataset == "sib200":
        return frozenset(SIB200_TOPICS)
    if dataset == "sentiment":
        return frozenset(SENTIMENT_LABELS)
    return None
