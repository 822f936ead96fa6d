"""Downstream classifiers: the interface and the registry (`CLASSIFIERS`, shared with the
task-file schema: each entry is a classifier's options model, which names its implementation and
declares what it offers FreeAL and the generated setting). A classifier is one module holding
both, as `embed_logreg.py` and `finetune.py` do."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from benchmark.case.spec import CLASSIFIERS, ClassifierOptions
from benchmark.registry import load_object

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


def build_classifier(
    options: ClassifierOptions | Mapping[str, Any], *, labels: Sequence[str]
) -> Classifier:
    """Instantiate the classifier `options` name (a case's typed options, or their stored dict)
    for a fixed label set: `implementation(options, labels=labels)`.

    Raises:
        UnknownNameError: no classifier of that name (with close matches).
    """
    kind = CLASSIFIERS.get(
        options.name if isinstance(options, ClassifierOptions) else options["name"]
    )
    if not isinstance(options, ClassifierOptions):
        options = kind.of(options)
    implementation = kind.implementation
    if isinstance(implementation, str):
        implementation = load_object(implementation)
    return implementation(options, labels=labels)
