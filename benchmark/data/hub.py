"""Loading the datasets from the Hugging Face hub (needs internet and `pip install .[hub]`).

Recent `datasets` releases no longer run loading scripts, and both MASSIVE
(`AmazonScience/massive`) and SIB-200 (`Davlan/sib200`) are script datasets.
The hub's parquet conversion of each (branch `refs/convert/parquet`, one folder
per config and split) is read instead. The sentiment sets are plain CSV repos.
"""

from __future__ import annotations

from benchmark.data.examples import Example, Split, known_labels
from benchmark.data.languages import Language
from benchmark.errors import DataFileError

PARQUET_REF = "refs%2Fconvert%2Fparquet"
HUB_SPLIT = {"train": "train", "dev": "validation", "test": "test"}
SENTIMENT_REPOS = {
    "en": "sepidmnorozy/English_sentiment",
    "de": "sepidmnorozy/German_sentiment",
    "th": "DGurgurov/thai_sa",
    "he": "DGurgurov/hebrew_sa",
    "id": "DGurgurov/indonesian_sa",
    "sw": "DGurgurov/swahili_sa",
    "ro": "DGurgurov/romanian_sa",
    "az": "DGurgurov/azerbaijani_sa",
    "sl": "DGurgurov/slovenian_sa",
    "te": "DGurgurov/telugu_sa",
    "cy": "DGurgurov/welsh_sa",
}


def _load(path: str, **kwargs):
    try:
        import datasets
    except ImportError as err:  # pragma: no cover - depends on extras
        raise ImportError("hub loading needs `pip install .[hub]` (the datasets library)") from err
    return datasets.load_dataset(path, **kwargs)


def _checked(split: Split, dataset: str) -> Split:
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


def load_massive_split(language: Language, split: str, *, intents: set[str] | None) -> Split:
    """MASSIVE 1.1 from `AmazonScience/massive` (parquet conversion)."""
    table = _load(
        "parquet", data_files={"x": parquet_files("AmazonScience/massive", language.massive, split)}
    )["x"]
    names = table.features["intent"].names
    examples = tuple(
        Example(text=row["utt"], label=names[row["intent"]], uid=str(row["id"]), split=split)
        for row in table
        if intents is None or names[row["intent"]] in intents
    )
    return _checked(
        Split(
            "massive",
            language.code,
            split,
            examples,
            f"hub:AmazonScience/massive/{language.massive}/{split}",
        ),
        "massive60",
    )


def load_sib200_split(language: Language, split: str) -> Split:
    """SIB-200 from `Davlan/sib200` (parquet conversion)."""
    table = _load(
        "parquet", data_files={"x": parquet_files("Davlan/sib200", language.sib200, split)}
    )["x"]
    examples = tuple(
        Example(text=row["text"], label=row["category"], uid=str(row["index_id"]), split=split)
        for row in table
    )
    return _checked(
        Split(
            "sib200", language.code, split, examples, f"hub:Davlan/sib200/{language.sib200}/{split}"
        ),
        "sib200",
    )


def load_sentiment_split(language: Language, split: str) -> Split:
    """The study's sentiment sets (binary; labels 0/1 mapped to negative/positive)."""
    repo = SENTIMENT_REPOS[language.code]
    table = _load(repo, split=HUB_SPLIT[split])
    label_key = "label" if "label" in table.column_names else table.column_names[-1]
    text_key = "text" if "text" in table.column_names else table.column_names[0]
    examples = tuple(
        Example(
            text=str(row[text_key]),
            label="positive" if int(row[label_key]) == 1 else "negative",
            uid=f"{split}-{i}",
            split=split,
        )
        for i, row in enumerate(table)
    )
    return _checked(
        Split("sentiment", language.code, split, examples, f"hub:{repo}/{split}"), "sentiment"
    )
