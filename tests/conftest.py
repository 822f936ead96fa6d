"""Shared fixtures: a tiny dataset in the local layout, and offline settings."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from benchmark.data.loaders import SIB200_TOPICS

pytest_plugins = ["pytester"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

WORDS = {
    "entertainment": "film concert music show",
    "geography": "river mountain lake coast",
    "health": "doctor vaccine illness hospital",
    "politics": "election minister parliament vote",
    "science/technology": "computer physics robot laboratory",
    "sports": "football match goal team",
    "travel": "hotel flight tourist visa",
}
SPLIT_SIZES = {"train": 6, "dev": 2, "test": 3}


def write_sib_fixture(root: Path, codes=("eng_Latn", "swh_Latn")) -> Path:
    """SIB-200-shaped TSVs: 7 topics, disjoint uids per split, topic words in every text."""
    (root / "sib200").mkdir(parents=True, exist_ok=True)
    for code in codes:
        uid = 0
        for split, per_label in SPLIT_SIZES.items():
            path = root / "sib200" / f"{code}_{split}.tsv"
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle, delimiter="\t")
                writer.writerow(["index_id", "category", "text"])
                for topic in SIB200_TOPICS:
                    words = WORDS[topic].split()
                    for i in range(per_label):
                        uid += 1
                        text = f"{code} {split} {i}: the {words[i % 4]} and the {words[(i + 1) % 4]} today"
                        writer.writerow([uid, topic, text])
    return root


@pytest.fixture(scope="session", autouse=True)
def _own_response_cache(tmp_path_factory):
    """Tests never write LLM answers into the user's response cache (a test that needs a cache
    of its own still sets `BENCH_RESPONSE_CACHE` itself)."""
    previous = os.environ.get("BENCH_RESPONSE_CACHE")
    os.environ["BENCH_RESPONSE_CACHE"] = str(tmp_path_factory.mktemp("cache") / "llm.sqlite")
    yield
    if previous is None:
        os.environ.pop("BENCH_RESPONSE_CACHE", None)
    else:
        os.environ["BENCH_RESPONSE_CACHE"] = previous


@pytest.fixture(scope="session")
def sib_fixture_dir(tmp_path_factory) -> Path:
    return write_sib_fixture(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    from benchmark.paths import default_data_dir

    path = default_data_dir()
    if not (path / "massive").is_dir():
        pytest.skip(f"real data not found at {path}")
    return path


@pytest.fixture
def use_backend(tmp_path):
    """A factory: `use_backend(backend)` serves that scripted backend through a response cache."""
    from scripted_llm import scripted

    return lambda backend: scripted(backend, tmp_path / "llm.sqlite")
