"""A plugin dataset kept as TSV files, in one module: three topics in English and German, its
files in `tests/fixtures/toy_topics/` (`<language>_<split>.tsv`, columns uid, label, text). Task
files load it with `plugins: [bench_toy_dataset]` and read it with that folder's parent as their
data directory."""

from __future__ import annotations

from benchmark.data.examples import DATASETS, Dataset
from benchmark.data.tsv import TsvFiles

TOY_LABELS = ("animals", "food", "weather")

TOY_TOPICS = Dataset(
    TsvFiles("toy_topics", uid="uid", label="label"),
    labels=TOY_LABELS,
    known_labels=frozenset(TOY_LABELS),
    languages={"en": "en", "de": "de"},
    descriptions={
        "animals": "A sentence about an animal on a farm.",
        "food": "A sentence about a meal or a dish.",
        "weather": "A sentence about the day's weather.",
    },
)
DATASETS.add("toy-topics", TOY_TOPICS)
