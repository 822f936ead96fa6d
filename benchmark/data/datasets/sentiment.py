"""The study's binary sentiment sets, one Hugging Face repo per language (always read from the
hub; labels 0/1 become negative/positive)."""

from __future__ import annotations

import functools

from benchmark.data import hub
from benchmark.data.datasets import packaged_descriptions
from benchmark.data.examples import Dataset, Example, Split

SENTIMENT_LABELS = ("negative", "positive")
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


def load_sentiment(dataset: str, language, split: str, data_dir) -> Split:
    """One split of a language's sentiment repo (whatever `data_dir` says: hub only)."""
    repo = SENTIMENT_REPOS[language.code]
    table = hub.load(repo, split=hub.HUB_SPLIT[split])
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
    split_ = Split("sentiment", language.code, split, examples, f"hub:{repo}/{split}")
    return hub.checked(split_, "sentiment")


SENTIMENT = Dataset(
    load_sentiment,
    labels=SENTIMENT_LABELS,
    known_labels=frozenset(SENTIMENT_LABELS),
    languages={code: code for code in SENTIMENT_REPOS},
    descriptions=functools.partial(packaged_descriptions, "sentiment"),
)
