"""Loading a dataset's splits (each dataset's registry entry names its loader; see
`benchmark.data.datasets` for the built-in ones and `benchmark.data.tsv` for the local TSV layout)
and seeded per-label sampling.

The test split is marked on every example; `sample_per_label` and the demo
samplers refuse test examples, so test data cannot reach training or prompts.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from pathlib import Path

from benchmark.data.datasets.massive import MASSIVE10_INTENTS, massive_intents
from benchmark.data.datasets.sentiment import SENTIMENT_LABELS
from benchmark.data.datasets.sib200 import SIB200_TOPICS
from benchmark.data.examples import (
    DATASETS,
    SPLITS,
    Dataset,
    Example,
    LeakageError,
    Split,
    known_labels,
)
from benchmark.data.languages import resolve_language

__all__ = [  # the data API
    "DATASETS",
    "MASSIVE10_INTENTS",
    "SENTIMENT_LABELS",
    "SIB200_TOPICS",
    "SPLITS",
    "Dataset",
    "Example",
    "LeakageError",
    "Split",
    "assert_disjoint_from_test",
    "dataset_labels",
    "known_labels",
    "load_split",
    "massive_intents",
    "refuse_test_examples",
    "sample_per_label",
    "sample_with_counts",
]


def dataset_labels(dataset: str, *, data_dir: Path | None = None) -> tuple[str, ...]:
    """The label set of a dataset, in a fixed (sorted) order.

    Raises:
        UnknownNameError: not a registered dataset (with close matches).
    """
    labels = DATASETS.get(dataset).labels
    if labels is not None:
        return labels
    return tuple(load_split(dataset, "en", "train", data_dir=data_dir).label_counts)


def load_split(
    dataset: str, language: str, split: str, *, data_dir: Path | str | None = None
) -> Split:
    """Load one split of a dataset for one language.

    Args:
        dataset: one of `DATASETS`.
        language: any accepted language code (`sw`, `sw-KE`, `swh_Latn`).
        split: `train`, `dev` or `test`.
        data_dir: local data root; `None` uses `benchmark.paths.default_data_dir()`;
            the string `"hub"` reads the Hugging Face hub instead (see `benchmark.data.hub`).

    Returns:
        The split, with a fingerprint of the file it was read from.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    entry = DATASETS.get(dataset)
    return entry.load(dataset, resolve_language(language, dataset=dataset), split, data_dir)


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
