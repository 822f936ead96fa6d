"""SIB-200 (topic classification of FLORES-200 sentences, 7 topics)::

    sib200/<code>_<split>.tsv     index_id, category, text      (code: swh_Latn)

or the hub's `Davlan/sib200` when the data directory is `"hub"`.
"""

from __future__ import annotations

import functools

from benchmark.data import hub
from benchmark.data.datasets import packaged_descriptions
from benchmark.data.examples import Dataset, Example, Split
from benchmark.data.tsv import TsvFiles

SIB200_TOPICS = (
    "entertainment",
    "geography",
    "health",
    "politics",
    "science/technology",
    "sports",
    "travel",
)
# Benchmark language -> SIB-200 / FLORES-200 code.
CODES = {
    "en": "eng_Latn",
    "de": "deu_Latn",
    "th": "tha_Thai",
    "he": "heb_Hebr",
    "id": "ind_Latn",
    "sw": "swh_Latn",
    "ro": "ron_Latn",
    "az": "azj_Latn",
    "sl": "slv_Latn",
    "te": "tel_Telu",
    "cy": "cym_Latn",
}


def load_sib200_hub(dataset: str, language, split: str) -> Split:
    """One split from `Davlan/sib200` (parquet conversion)."""
    code = language.code_for(dataset)
    files = hub.parquet_files("Davlan/sib200", code, split)
    table = hub.load("parquet", data_files={"x": files})["x"]
    examples = tuple(
        Example(text=row["text"], label=row["category"], uid=str(row["index_id"]), split=split)
        for row in table
    )
    source = f"hub:Davlan/sib200/{code}/{split}"
    return hub.checked(Split("sib200", language.code, split, examples, source), "sib200")


SIB200 = Dataset(
    TsvFiles("sib200", uid="index_id", label="category", hub=load_sib200_hub),
    labels=SIB200_TOPICS,
    known_labels=frozenset(SIB200_TOPICS),
    languages=CODES,
    descriptions=functools.partial(packaged_descriptions, "sib200"),
    vocabulary=True,
)
