"""Frozen sentence embeddings + multinomial logistic regression (fast on CPU): the options a task
file gives it (`EmbedLogregSpec`, registered as `embed-logreg`) and the classifier."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import Field

from benchmark.classifiers import ClassifierOptions, FitInfo
from benchmark.encoders.embedder import load_embedder


class EmbedLogregClassifier:
    """Embeds texts once (through the embedding cache) and fits a logistic regression."""

    def __init__(self, spec: EmbedLogregSpec, *, labels: Sequence[str]):
        self.spec, self.labels = spec, list(labels)
        self.embedder = load_embedder(spec.encoder)
        self.model = None

    def fit(self, texts, labels, *, dev_texts, dev_labels, seed) -> FitInfo:
        from sklearn.linear_model import LogisticRegression

        start = time.perf_counter()
        features = self.embedder.encode(list(texts))
        weight = self.spec.class_weight
        self.model = LogisticRegression(
            C=self.spec.c,
            max_iter=self.spec.max_iter,
            random_state=seed,
            class_weight="balanced" if weight == "balanced" else None,
        )
        self.model.fit(features, np.asarray(labels))
        return FitInfo(seconds=time.perf_counter() - start, details={"n_train": len(texts)})

    def predict(self, texts) -> list[str]:
        if self.model is None:
            raise RuntimeError("fit() must run before predict()")
        return self.model.predict(self.embedder.encode(list(texts))).tolist()

    @property
    def fingerprint(self) -> str:
        return self.embedder.fingerprint


class EmbedLogregSpec(ClassifierOptions):
    """Frozen sentence embeddings + logistic regression (fast CPU recipe)."""

    slug_prefix = "logreg"
    features = "frozen"
    legacy_defaults = {"class_weight": "none"}  # unweighted before the option
    implementation = EmbedLogregClassifier
    name: Literal["embed-logreg"] = "embed-logreg"
    encoder: str = "e5-small"
    c: float = Field(1.0, gt=0, description="inverse L2 strength of the logistic regression")
    max_iter: int = Field(2000, gt=0)
    class_weight: Literal["balanced", "none"] = Field(
        "balanced",
        description="balanced: loss weights inverse to label counts (see docs/task-files.md)",
    )
