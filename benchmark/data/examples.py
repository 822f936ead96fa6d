"""The data model below every loader: label sets, `Example`, `Split`, and the dataset registry
(`DATASETS`: each dataset's labels and loader), so `benchmark.data.loaders` and `benchmark.data.hub` share
them without importing each other."""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from benchmark.registry import Registry, load_object

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


@dataclass(frozen=True)
class Dataset:
    """A dataset as `DATASETS` registers it: a new dataset is one module with one registration
    (plus its files).

    Attributes:
        loader: `loader(dataset, language, split, data_dir) -> Split` (`language` a resolved
            `benchmark.data.languages.Language`, `data_dir` as `benchmark.data.loaders.load_split` takes
            it), or a lazy `"module:function"` naming it.
        labels: the label set in its fixed order; None: the sorted labels of its English train
            split (MASSIVE-60).
        known_labels: every label its files may hold, checked on load (None: not checked),
            or a function returning them (called when needed).
    """

    loader: Callable[..., Split] | str
    labels: tuple[str, ...] | None = None
    known_labels: frozenset[str] | Callable[[], frozenset[str]] | None = None

    def load(self, dataset: str, language, split: str, data_dir) -> Split:
        """One split, read by the dataset's loader."""
        loader = load_object(self.loader) if isinstance(self.loader, str) else self.loader
        return loader(dataset, language, split, data_dir)


@functools.lru_cache(maxsize=1)
def massive_intents() -> frozenset[str]:
    """The 60 MASSIVE intents (the keys of the packaged human label descriptions)."""
    from importlib import resources

    import yaml

    text = resources.files("benchmark").joinpath("resources", "label_descriptions.yaml")
    return frozenset(str(k) for k in yaml.safe_load(text.read_text("utf-8"))["massive60"])


DATASETS: Registry[Dataset] = Registry("dataset")
DATASETS.add(
    "massive10",
    Dataset("benchmark.data.loaders:load_local_or_hub", MASSIVE10_INTENTS, massive_intents),
)
DATASETS.add(
    "massive60", Dataset("benchmark.data.loaders:load_local_or_hub", None, massive_intents)
)
DATASETS.add(
    "sib200",
    Dataset("benchmark.data.loaders:load_local_or_hub", SIB200_TOPICS, frozenset(SIB200_TOPICS)),
)
DATASETS.add(
    "sentiment",
    Dataset("benchmark.data.loaders:load_sentiment", SENTIMENT_LABELS, frozenset(SENTIMENT_LABELS)),
)


def known_labels(dataset: str) -> frozenset[str] | None:
    """Every label a dataset's files may hold (None: not checked)."""
    known = DATASETS.get(dataset).known_labels
    return known() if callable(known) else known
