"""Downstream classifiers: the interface and the registry (`CLASSIFIERS`, shared with the
task-file schema: each entry is a classifier's options model, which names its implementation)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from benchmark.registry import load_object
from benchmark.spec import CLASSIFIERS, ClassifierOptions

__all__ = ["CLASSIFIERS", "Classifier", "ClassifierOptions", "FitInfo", "build_classifier"]


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
    """Instantiate the classifier named by `spec["name"]` for a fixed label set.

    Raises:
        UnknownNameError: no classifier of that name (with close matches).
    """
    implementation = CLASSIFIERS.get(spec["name"]).implementation
    if isinstance(implementation, str):
        implementation = load_object(implementation)
    return implementation(spec, labels=labels)
