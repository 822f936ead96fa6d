"""Human-written label descriptions and readable label names.

Each dataset's registry entry says where its descriptions are (`Dataset.descriptions`; the
built-in ones are packaged in `benchmark/resources/label_descriptions.yaml`, `massive10` the
study's 10-intent subset of `massive60`).
"""

from __future__ import annotations

from collections.abc import Sequence

from benchmark.data.loaders import DATASETS, MASSIVE10_INTENTS

STUDY_INTENTS = MASSIVE10_INTENTS


def human_descriptions(dataset: str) -> dict[str, str]:
    """Every human-written label description of a dataset.

    Args:
        dataset: a registered dataset (`massive10`, `massive60`, `sib200`, `sentiment` ...).

    Returns:
        label -> one-sentence description.

    Raises:
        KeyError: not a registered dataset (with close matches), or one without descriptions;
            the message names the datasets that have them.
    """
    table = DATASETS.get(dataset).label_descriptions()
    if table is None:
        described = [name for name in DATASETS if DATASETS.get(name).descriptions is not None]
        raise KeyError(f"no label descriptions for dataset {dataset!r}; known: {described}")
    return dict(table)


def human_description(dataset: str, label: str) -> str:
    """The human-written description of one label.

    Args:
        dataset: `massive10`, `massive60`, `sib200` or `sentiment`.
        label: the label as the data files spell it.

    Returns:
        One sentence describing the label.

    Raises:
        KeyError: the dataset or label has no description; the message names the known ones.
    """
    table = human_descriptions(dataset)
    if label not in table:
        raise KeyError(f"no description for label {label!r} of {dataset}; known: {sorted(table)}")
    return table[label]


def undescribed_labels(dataset: str, labels: Sequence[str]) -> list[str]:
    """The labels (of `labels`) the dataset has no human-written description for."""
    table = DATASETS.get(dataset).label_descriptions() or {}
    return [label for label in labels if not table.get(label)]


def readable_label(label: str) -> str:
    """A label as a phrase for prompts: underscores become spaces.

    Args:
        label: a label name (`alarm_query`, `science/technology`).

    Returns:
        The readable form (`alarm query`, `science/technology`); already readable labels
        come back unchanged.
    """
    return " ".join(label.replace("_", " ").split())
