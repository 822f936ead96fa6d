"""The data model below every loader: `Example`, `Split`, and the dataset registry (`DATASETS`:
each dataset's loader, labels, languages, label descriptions and gate use), so that
`benchmark.data.loaders`, `benchmark.data.languages` and the dataset modules share them without
importing each other.

The built-in datasets are one module each in `benchmark.data.datasets`, registered here lazily
(imported when first named); a plugin dataset is one module calling `DATASETS.add`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from benchmark.registry import Registry, load_object

SPLITS = ("train", "dev", "test")


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
            `benchmark.data.languages.Language`, `data_dir` as `benchmark.data.loaders.load_split`
            takes it), or a lazy `"module:function"` naming it; `benchmark.data.tsv.TsvFiles`
            reads local TSV files.
        labels: the label set in its fixed order; None: the sorted labels of its English train
            split (MASSIVE-60).
        known_labels: every label its files may hold, checked on load (None: not checked),
            or a function returning them (called when needed).
        languages: benchmark language (short code) -> the code its files use for it (`sw` ->
            `swh_Latn`); None: every benchmark language, files named by the short code.
        descriptions: the human-written description of each label, or a function returning
            them (called when needed); None: it has none (generated settings that show human
            descriptions refuse it when a task file is read).
        vocabulary: the language gate may read its train split for a language's vocabulary
            (part of every gated case's spec: adding one changes those hashes).
    """

    loader: Callable[..., Split] | str
    labels: tuple[str, ...] | None = None
    known_labels: frozenset[str] | Callable[[], frozenset[str]] | None = None
    languages: Mapping[str, str] | None = None
    descriptions: Mapping[str, str] | Callable[[], Mapping[str, str]] | None = None
    vocabulary: bool = False

    def load(self, dataset: str, language, split: str, data_dir) -> Split:
        """One split, read by the dataset's loader."""
        loader = load_object(self.loader) if isinstance(self.loader, str) else self.loader
        return loader(dataset, language, split, data_dir)

    def has_language(self, code: str) -> bool:
        """Whether the dataset has files for the benchmark language `code` (its short code)."""
        return self.languages is None or code in self.languages

    def file_code(self, code: str) -> str:
        """The code its files use for the benchmark language `code` (its short code)."""
        return (self.languages or {}).get(code, code)

    def label_descriptions(self) -> Mapping[str, str] | None:
        """Label -> human-written description (None: the dataset has none)."""
        found = self.descriptions
        return found() if callable(found) else found


DATASETS: Registry[Dataset] = Registry("dataset")
DATASETS.add("massive10", "benchmark.data.datasets.massive:MASSIVE10")
DATASETS.add("massive60", "benchmark.data.datasets.massive:MASSIVE60")
DATASETS.add("sib200", "benchmark.data.datasets.sib200:SIB200")
DATASETS.add("sentiment", "benchmark.data.datasets.sentiment:SENTIMENT")


def known_labels(dataset: str) -> frozenset[str] | None:
    """Every label a dataset's files may hold (None: not checked)."""
    known = DATASETS.get(dataset).known_labels
    return known() if callable(known) else known
