"""Reading datasets from the Hugging Face hub (needs internet and `pip install .[hub]`): what the
dataset modules' hub readers share.

Recent `datasets` releases no longer run loading scripts, and both MASSIVE
(`AmazonScience/massive`) and SIB-200 (`Davlan/sib200`) are script datasets.
The hub's parquet conversion of each (branch `refs/convert/parquet`, one folder
per config and split) is read instead. The sentiment sets are plain CSV repos.
"""

from __future__ import annotations

from benchmark.data.examples import Split, known_labels
from benchmark.errors import DataFileError

PARQUET_REF = "refs%2Fconvert%2Fparquet"
HUB_SPLIT = {"train": "train", "dev": "validation", "test": "test"}


def load(path: str, **kwargs):
    """`datasets.load_dataset(path, **kwargs)`, with a clear error when `datasets` is missing."""
    try:
        import datasets
    except ImportError as err:  # pragma: no cover - depends on extras
        raise ImportError("hub loading needs `pip install .[hub]` (the datasets library)") from err
    return datasets.load_dataset(path, **kwargs)


def checked(split: Split, dataset: str) -> Split:
    """The split, unless it is empty or holds a label outside the dataset's label set."""
    source = split.fingerprint
    if not split.examples:
        raise DataFileError(source, f"no examples in the {split.split} split; it must not be empty")
    known = known_labels(dataset)
    unknown = sorted({e.label for e in split.examples} - known) if known is not None else []
    if unknown:
        raise DataFileError(source, f"unknown label(s) {unknown}; expected {sorted(known)}")
    return split


def parquet_files(repo: str, config: str, split: str) -> str:
    """The `hf://` glob of one config/split of a repo's parquet conversion."""
    return f"hf://datasets/{repo}@{PARQUET_REF}/{config}/{HUB_SPLIT[split]}/*.parquet"
