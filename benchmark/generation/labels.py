"""Human-written label descriptions and readable label names.

The descriptions live in `benchmark/resources/label_descriptions.yaml`; `massive10`
is the study's 10-intent subset of `massive60`.
"""

from __future__ import annotations

from importlib import resources

import yaml

from benchmark.data.loaders import MASSIVE10_INTENTS

DESCRIPTIONS_RESOURCE = "label_descriptions.yaml"
STUDY_INTENTS = MASSIVE10_INTENTS


def _load_descriptions() -> dict[str, dict[str, str]]:
    """Read the YAML resource and add the derived `massive10` table.

    Returns:
        dataset name -> label -> one-sentence description.
    """
    text = (
        resources.files("benchmark").joinpath("resources", DESCRIPTIONS_RESOURCE).read_text("utf-8")
    )
    raw = yaml.safe_load(text)
    tables = {
        dataset: {str(k): str(v) for k, v in labels.items()} for dataset, labels in raw.items()
    }
    tables["massive10"] = {intent: tables["massive60"][intent] for intent in STUDY_INTENTS}
    return tables


HUMAN_DESCRIPTIONS: dict[str, dict[str, str]] = _load_descriptions()


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
    table = HUMAN_DESCRIPTIONS.get(dataset)
    if table is None:
        raise KeyError(
            f"no label descriptions for dataset {dataset!r}; known: {sorted(HUMAN_DESCRIPTIONS)}"
        )
    if label not in table:
        raise KeyError(f"no description for label {label!r} of {dataset}; known: {sorted(table)}")
    return table[label]


def readable_label(label: str) -> str:
    """A label as a phrase for prompts: underscores become spaces.

    Args:
        label: a label name (`alarm_query`, `science/technology`).

    Returns:
        The readable form (`alarm query`, `science/technology`); already readable labels
        come back unchanged.
    """
    return " ".join(label.replace("_", " ").split())
