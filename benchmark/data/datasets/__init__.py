"""The built-in datasets, one module per family: each declares its labels, the language codes
its files use, where its label descriptions are and whether the language gate reads it, in one
`benchmark.data.examples.Dataset` per dataset name (listed lazily in `DATASETS`).

A plugin dataset is the same: one module calling `DATASETS.add(name, Dataset(...))`, named under
a task file's `plugins:` (`tests/extensions/bench_toy_dataset.py` adds a TSV dataset this way).
"""

from __future__ import annotations

import functools
from importlib import resources

import yaml

DESCRIPTIONS_RESOURCE = "label_descriptions.yaml"


@functools.cache
def packaged_descriptions(table: str) -> dict[str, str]:
    """One table (`massive60`, `sib200`, `sentiment`) of the human-written label descriptions
    packaged in `benchmark/resources/label_descriptions.yaml`: label -> description."""
    text = resources.files("benchmark").joinpath("resources", DESCRIPTIONS_RESOURCE)
    tables = yaml.safe_load(text.read_text("utf-8"))
    return {str(label): str(description) for label, description in tables[table].items()}
