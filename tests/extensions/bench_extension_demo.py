"""A plugin outside `benchmark/`: a classifier, a selector, an LLM backend and a dataset, each
one registration. Task files load it with `plugins: [bench_extension_demo]` (this folder is on
pytest's `pythonpath`)."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field

from benchmark.classifiers import CLASSIFIERS, ClassifierOptions, FitInfo
from benchmark.data.examples import DATASETS, Dataset, Example, Split
from benchmark.llm.backend import BACKENDS, ChatBackend, ChatResponse, ChoiceResponse
from benchmark.selection import SELECTORS

SELECTOR_CALLS: list[int] = []  # k of every call of the selector, for the tests
TOPICS = "entertainment|geography|health|politics|science/technology|sports|travel"


class WordOverlapClassifier:
    """Predicts the label whose training texts share the most words with the text."""

    def __init__(self, spec: WordOverlapOptions, *, labels: Sequence[str]):
        self.spec, self.labels = spec, list(labels)
        self.words: dict[str, Counter] = {}

    def fit(self, texts, labels, *, dev_texts, dev_labels, seed) -> FitInfo:
        start = time.perf_counter()
        self.words = {label: Counter() for label in sorted(set(labels))}
        for text, label in zip(texts, labels, strict=True):
            self.words[label].update(text.lower().split())
        return FitInfo(seconds=time.perf_counter() - start, details={"n_train": len(texts)})

    def predict(self, texts) -> list[str]:
        floor = self.spec.min_count
        return [
            max(
                self.words,
                key=lambda lab, t=text: sum(self.words[lab][w] >= floor for w in t.lower().split()),
            )
            for text in texts
        ]


@CLASSIFIERS.register("word-overlap")
class WordOverlapOptions(ClassifierOptions):
    """Options of the word-overlap classifier (no encoder: its own case-id part)."""

    slug_prefix = "overlap"
    implementation = WordOverlapClassifier
    name: Literal["word-overlap"] = "word-overlap"
    min_count: int = Field(1, ge=1, description="a word counts for a label seen this often")

    @classmethod
    def slug_of(cls, options: Mapping[str, Any]) -> str:
        return f"{cls.slug_prefix}_min{options['min_count']}"


@SELECTORS.register("first_k")
def select_first_k(vectors: np.ndarray, k: int, **_) -> np.ndarray:
    """The first k candidates of each label."""
    SELECTOR_CALLS.append(k)
    return np.arange(min(k, len(vectors)))


@BACKENDS.register("topic-echo")
class TopicEchoBackend(ChatBackend):
    """Answers each generation prompt with three lines about the topic it asks for, and
    accepts every revision check."""

    def __init__(self, model_ref: str, *, batch_size: int = 16, max_model_len: int = 4096):
        self._max_model_len = max_model_len

    def generate(self, requests, *, on_result=None):
        out = []
        for i, request in enumerate(requests):
            found = re.search(TOPICS, request.messages[-1][1])
            topic = found.group(0) if found else "nothing"
            lines = [f"a {topic} story number {request.sampling.seed} {j}" for j in range(3)]
            out.append(ChatResponse("\n".join(lines), 40, 20, "stop"))
            if on_result:
                on_result(i, out[-1])
        return out

    def choose(self, requests, *, on_result=None):
        out = []
        for i, request in enumerate(requests):
            best = "yes" if "yes" in request.choices else request.choices[0]
            logprobs = {c: -0.1 if c == best else -2.0 for c in request.choices}
            out.append(ChoiceResponse(best, logprobs))
            if on_result:
                on_result(i, out[-1])
        return out

    def count_tokens(self, messages) -> int:
        return sum(len(content.split()) for _, content in messages)

    @property
    def max_model_len(self) -> int:
        return self._max_model_len

    @property
    def fingerprint(self) -> str:
        return "topic-echo-1"


PET_WORDS = {"cats": ("purr", "whisker", "meow"), "dogs": ("bark", "leash", "fetch")}


def load_pets(dataset: str, language, split: str, data_dir) -> Split:
    """A made-up two-label set, built in memory: each text names its label's words."""
    size, first = {"train": (8, 0), "dev": (3, 100), "test": (4, 200)}[split]
    examples = tuple(
        Example(f"the {' '.join(words)} of {split} {i}", label, f"{label}-{first + i}", split)
        for label, words in PET_WORDS.items()
        for i in range(size)
    )
    return Split(dataset, language.code, split, examples, f"{dataset}/{language.code}/{split}:1")


DATASETS.add("pets", Dataset(load_pets, labels=tuple(PET_WORDS), known_labels=None))
