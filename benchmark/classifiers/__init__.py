"""Downstream classifiers behind one small, lazily imported registry."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

CLASSIFIERS = {
    "embed-logreg": "benchmark.classifiers.embed_logreg:EmbedLogregClassifier",
    "finetune": "benchmark.classifiers.finetune:FinetuneClassifier",
}


@dataclass
class FitInfo:
    """What a fit reports back (epochs run, best dev loss, seconds, ...)."""

    seconds: float
    details: dict[str, Any] = field(default_factory=dict)


class Classifier(Protocol):
    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        dev_texts: Sequence[str],
        dev_labels: Sequence[str],
        seed: int,
    ) -> FitInfo: ...

    def predict(self, texts: Sequence[str]) -> list[str]: ...


def build_classifier(spec: dict[str, Any], *, labels: Sequence[str]) -> Classifier:
    """Instantiate the classifier named by `spec["name"]` for a fixed label set."""
    target = CLASSIFIERS.get(spec["name"])
    if target is None:
        raise KeyError(f"unknown classifier {spec['name']!r}; known: {', '.join(CLASSIFIERS)}")
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)(spec, labels=labels)
