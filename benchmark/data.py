"""Dataset loaders (local TSV layout or the Hugging Face hub) and seeded per-label sampling.

Local layout (see `shared/data/SOURCES.md`)::

    massive/<locale>_<split>.tsv   id, partition, intent, text
    sib200/<code>_<split>.tsv      index_id, category, text

The test split is marked on every example; `sample_per_label` and the demo
samplers refuse test examples, so test data cannot reach training or prompts.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmark.languages import Language, resolve_language
from benchmark.paths import DATA_DIR_ENV, DataDirError

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


def dataset_labels(dataset: str, *, data_dir: Path | None = None) -> tuple[str, ...]:
    """The label set of a dataset, in a fixed (sorted) order."""
    if dataset == "massive10":
        return MASSIVE10_INTENTS
    if dataset == "sib200":
        return SIB200_TOPICS
    if dataset == "sentiment":
        return SENTIMENT_LABELS
    if dataset == "massive60":
        split = load_split("massive60", "en", "train", data_dir=data_dir)
        return tuple(split.label_counts)
    raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")


def _local_file(dataset: str, language: Language, split: str, data_dir: Path) -> Path:
    if not data_dir.is_dir():
        raise DataDirError(
            f"data directory {data_dir} does not exist; point at the folder holding "
            f"massive/ and sib200/ with --bench-data-dir or ${DATA_DIR_ENV}"
        )
    if dataset.startswith("massive"):
        path = data_dir / "massive" / f"{language.massive}_{split}.tsv"
    elif dataset == "sib200":
        path = data_dir / "sib200" / f"{language.sib200}_{split}.tsv"
    else:
        raise DataDirError(
            f"dataset {dataset!r} has no local files (it is loaded from the Hugging Face hub)"
        )
    if not path.is_file():
        raise DataDirError(
            f"missing data file {path} (looked in data directory {data_dir}); point elsewhere "
            f"with --bench-data-dir or ${DATA_DIR_ENV}"
        )
    return path


@functools.lru_cache(maxsize=256)
def _read_tsv(path: Path) -> tuple[tuple[dict[str, str], ...], str]:
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    reader = csv.DictReader(raw.decode("utf-8").splitlines(), delimiter="\t")
    return tuple(reader), digest


def load_split(
    dataset: str, language: str, split: str, *, data_dir: Path | str | None = None
) -> Split:
    """Load one split of a dataset for one language.

    Args:
        dataset: one of `DATASETS`.
        language: any accepted language code (`sw`, `sw-KE`, `swh_Latn`).
        split: `train`, `dev` or `test`.
        data_dir: local data root; `None` uses `benchmark.paths.default_data_dir()`;
            the string `"hub"` reads the Hugging Face hub instead (see `benchmark.hub`).

    Returns:
        The split, with a fingerprint of the file it was read from.
    """
    from benchmark.paths import default_data_dir

    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    lang = resolve_language(language, dataset=dataset)
    if dataset == "sentiment":
        from benchmark.hub import load_sentiment_split

        return load_sentiment_split(lang, split)
    if str(data_dir) == "hub":
        from benchmark import hub

        if dataset == "sib200":
            return hub.load_sib200_split(lang, split)
        intents = set(MASSIVE10_INTENTS) if dataset == "massive10" else None
        return hub.load_massive_split(lang, split, intents=intents)
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    rows, digest = _read_tsv(_local_file(dataset, lang, split, root))
    if dataset.startswith("massive"):
        keep = set(MASSIVE10_INTENTS) if dataset == "massive10" else None
        examples = tuple(
            Example(text=r["text"], label=r["intent"], uid=r["id"], split=split)
            for r in rows
            if keep is None or r["intent"] in keep
        )
    else:
        examples = tuple(
            Example(text=r["text"], label=r["category"], uid=r["index_id"], split=split)
            for r in rows
        )
    return Split(dataset, lang.code, split, examples, f"{dataset}/{lang.code}/{split}:{digest}")


def refuse_test_examples(examples: Iterable[Example], *, purpose: str) -> None:
    """Raise `LeakageError` if any example comes from the test split."""
    leaked = [e.uid for e in examples if e.split == "test"]
    if leaked:
        raise LeakageError(f"{len(leaked)} test-split examples reached {purpose}: {leaked[:5]}")


def assert_disjoint_from_test(training: Sequence[Example], test: Split) -> None:
    """Raise `LeakageError` if a training example shares a uid with the test split."""
    test_ids = {e.uid for e in test.examples}
    shared = [e.uid for e in training if e.split != "generated" and e.uid in test_ids]
    if shared:
        raise LeakageError(f"{len(shared)} training examples are test examples: {shared[:5]}")


def sample_per_label(
    split: Split, n: int, *, seed: int, exact: bool = False, labels: Sequence[str] | None = None
) -> list[Example]:
    """Draw up to `n` examples per label (all of a label when it has fewer), seeded.

    Args:
        split: a train or dev split (never test).
        n: examples per label.
        seed: sampling seed; the same seed always gives the same sample.
        exact: raise `ValueError` when a label has fewer than `n` examples.
        labels: restrict to these labels (default: all labels of the split).

    Returns:
        Examples grouped by label in sorted label order, shuffled within a label.
    """
    refuse_test_examples(split.examples, purpose="a training or demo sample")
    groups = split.by_label()
    chosen: list[Example] = []
    for label in sorted(labels if labels is not None else groups):
        pool = sorted(groups.get(label, []), key=lambda e: e.uid)
        if not pool or (exact and len(pool) < n):
            raise ValueError(
                f"{split.dataset}/{split.language}/{split.split}: label {label!r} has "
                f"{len(pool)} examples, {n} requested"
            )
        rng = random.Random(f"{seed}:{label}")
        chosen.extend(rng.sample(pool, min(n, len(pool))))
    return chosen


def sample_with_counts(split: Split, counts: dict[str, int], *, seed: int) -> list[Example]:
    """Draw exactly `counts[label]` examples per label (fewer where the label has fewer), seeded.

    The matched gold control of a generated case: gold data with the case's per-label counts.

    Args:
        split: a train split (never test).
        counts: label -> examples wanted.
        seed: sampling seed.

    Returns:
        Examples in sorted label order; labels with count 0 are absent.
    """
    refuse_test_examples(split.examples, purpose="a matched gold sample")
    groups = split.by_label()
    chosen: list[Example] = []
    for label in sorted(counts):
        pool = sorted(groups.get(label, []), key=lambda e: e.uid)
        rng = random.Random(f"{seed}:{label}:matched")
        chosen.extend(rng.sample(pool, min(counts[label], len(pool))))
    return chosen
