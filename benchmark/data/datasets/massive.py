"""MASSIVE 1.1 (Amazon's intent classification set): `massive60`, every intent, and `massive10`,
the study's 10-intent subset. Both read the same files::

    massive/<locale>_<split>.tsv     id, partition, intent, text      (locale: sw-KE)

or the hub's `AmazonScience/massive` when the data directory is `"hub"`.
"""

from __future__ import annotations

import functools

from benchmark.data import hub
from benchmark.data.datasets import packaged_descriptions
from benchmark.data.examples import Dataset, Example, Split
from benchmark.data.tsv import TsvFiles

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
# Benchmark language -> MASSIVE locale.
LOCALES = {
    "en": "en-US",
    "de": "de-DE",
    "th": "th-TH",
    "he": "he-IL",
    "id": "id-ID",
    "sw": "sw-KE",
    "ro": "ro-RO",
    "az": "az-AZ",
    "sl": "sl-SL",
    "te": "te-IN",
    "cy": "cy-GB",
}
COLUMNS = ("id", "partition", "intent", "text")


def massive_intents() -> frozenset[str]:
    """The 60 MASSIVE intents (the labels of the packaged human descriptions)."""
    return frozenset(packaged_descriptions("massive60"))


def massive10_descriptions() -> dict[str, str]:
    """The human descriptions of the study's 10 intents, in their order."""
    every = packaged_descriptions("massive60")
    return {intent: every[intent] for intent in MASSIVE10_INTENTS}


def load_massive_hub(
    dataset: str, language, split: str, *, intents: tuple[str, ...] | None = None
) -> Split:
    """One split from `AmazonScience/massive` (parquet conversion), `intents` only when given."""
    locale = language.code_for(dataset)
    files = hub.parquet_files("AmazonScience/massive", locale, split)
    table = hub.load("parquet", data_files={"x": files})["x"]
    names = table.features["intent"].names
    examples = tuple(
        Example(text=row["utt"], label=names[row["intent"]], uid=str(row["id"]), split=split)
        for row in table
        if intents is None or names[row["intent"]] in intents
    )
    source = f"hub:AmazonScience/massive/{locale}/{split}"
    return hub.checked(Split("massive", language.code, split, examples, source), "massive60")


MASSIVE60 = Dataset(
    TsvFiles("massive", uid="id", label="intent", columns=COLUMNS, hub=load_massive_hub),
    labels=None,
    known_labels=massive_intents,
    languages=LOCALES,
    descriptions=functools.partial(packaged_descriptions, "massive60"),
    vocabulary=True,
)
MASSIVE10 = Dataset(
    TsvFiles(
        "massive",
        uid="id",
        label="intent",
        columns=COLUMNS,
        keep=MASSIVE10_INTENTS,
        hub=functools.partial(load_massive_hub, intents=MASSIVE10_INTENTS),
    ),
    labels=MASSIVE10_INTENTS,
    known_labels=massive_intents,
    languages=LOCALES,
    descriptions=massive10_descriptions,
)
