"""Small-loss clean-sample selection (GMM) and class-wise demonstration feedback."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np


def _gmm_clean_probability(losses: np.ndarray, *, seed: int) -> np.ndarray:
    """Posterior of the low-mean component of a 2-component GMM on min-max normalised losses."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    span = losses.max() - losses.min()
    if len(losses) < 2 or span <= 0:
        return np.ones(len(losses))
    x = ((losses - losses.min()) / span).reshape(-1, 1)
    gmm = GaussianMixture(n_components=2, max_iter=10, tol=1e-2, reg_covar=5e-4, random_state=seed)
    with warnings.catch_warnings():  # max_iter=10 is FreeAL's setting; early stops are expected
        warnings.simplefilter("ignore", ConvergenceWarning)
        gmm.fit(x)
    return gmm.predict_proba(x)[:, int(np.argmin(gmm.means_.ravel()))]


def clean_mask(
    losses: Sequence[float],
    labels: Sequence[str],
    *,
    threshold: float = 0.7,
    class_balanced: bool = False,
    min_per_class: int = 0,
    seed: int = 0,
) -> np.ndarray:
    """Which samples count as clean (FreeAL: posterior of the low-loss component > threshold).

    Args:
        losses: per-sample loss against the (noisy) LLM label.
        labels: the LLM labels.
        threshold: posterior above which a sample is clean.
        class_balanced: fit one GMM per class (the reference fits one over all samples, which
            lets a hard class lose nearly all its clean samples).
        min_per_class: keep at least this many lowest-loss samples of every class clean.
        seed: GMM seed.

    Returns:
        Boolean mask.
    """
    losses = np.asarray(losses, dtype=float)
    labels = np.asarray(labels)
    mask = np.zeros(len(losses), dtype=bool)
    if class_balanced:
        for label in np.unique(labels):
            rows = np.flatnonzero(labels == label)
            mask[rows] = _gmm_clean_probability(losses[rows], seed=seed) > threshold
    else:
        mask = _gmm_clean_probability(losses, seed=seed) > threshold
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        need = min(min_per_class, len(rows)) - int(mask[rows].sum())
        if need > 0:
            candidates = rows[~mask[rows]]
            mask[candidates[np.argsort(losses[candidates], kind="stable")[:need]]] = True
    return mask


def class_counts(labels: Sequence[str | None], classes: Sequence[str]) -> dict[str, int]:
    """Per-class counts (abstentions under None)."""
    out = {c: 0 for c in classes}
    out["None"] = 0
    for label in labels:
        out["None" if label is None else label] = out.get("None" if label is None else label, 0) + 1
    return out


def collapsing_classes(
    before: dict[str, int], after: dict[str, int], *, ratio: float = 0.5
) -> list[str]:
    """Classes whose count fell below `ratio` x their previous count between rounds."""
    return sorted(
        c for c, n in before.items() if c != "None" and n > 0 and after.get(c, 0) < ratio * n
    )


def confident_agreeing(
    predicted: Sequence[str],
    llm_labels: Sequence[str | None],
    confidence: Sequence[float],
    *,
    classes: Sequence[str],
    fraction: float = 0.2,
) -> dict[str, list[int]]:
    """FreeAL's feedback selection (`self_training_slm/mytrainer.py`, `_inner_training_loop`).

    Per class j: the samples predicted j whose LLM label is j, most confident first, of which
    the first `int(fraction x count)` are kept (`rho_sel = 0.2`; a class where that is 0 keeps
    none). In the refinement round these keep their label and are the demonstration pool;
    every other text goes back to the LLM.

    Returns:
        class -> row indices (most confident first).
    """
    predicted = np.asarray(predicted, dtype=object)
    llm_labels = np.asarray(llm_labels, dtype=object)
    confidence = np.asarray(confidence, dtype=float)
    out: dict[str, list[int]] = {}
    for label in classes:
        rows = np.flatnonzero((predicted == label) & (llm_labels == label))
        rows = rows[np.argsort(-confidence[rows], kind="stable")]
        out[label] = rows[: int(len(rows) * fraction)].tolist()
    return out


def representatives(
    vectors: np.ndarray, selected: dict[str, Sequence[int]], *, per_class: int, seed: int = 0
) -> dict[str, list[int]]:
    """Per class, k-means over its selected rows and the member nearest each centre.

    FreeAL clusters each class's selection into `select_demo_num // num_labels` (100 // classes)
    clusters; a class with at most that many rows keeps them all.
    """
    from sklearn.cluster import KMeans

    out: dict[str, list[int]] = {}
    for label, rows in selected.items():
        rows = np.asarray(rows, dtype=int)
        if len(rows) <= per_class:
            out[label] = rows.tolist()
            continue
        km = KMeans(n_clusters=per_class, n_init=3, random_state=seed).fit(vectors[rows])
        out[label] = sorted(
            int(
                rows[np.flatnonzero(km.labels_ == c)][
                    np.argmax(vectors[rows][km.labels_ == c] @ km.cluster_centers_[c])
                ]
            )
            for c in range(per_class)
        )
    return out


def demo_pool(
    vectors: np.ndarray,
    predicted: Sequence[str],
    llm_labels: Sequence[str | None],
    confidence: Sequence[float],
    *,
    classes: Sequence[str],
    top_fraction: float = 0.2,
    per_class: int | None = None,
    min_per_class: int = 1,
    seed: int = 0,
) -> dict[str, list[int]]:
    """Class-wise demonstration pool of the `noisy_only` refinement (this benchmark's variant).

    Per class: the most confident `top_fraction` (rounded up) of samples whose small-model
    prediction agrees with the LLM label, then k-means representatives (100 // n_classes
    clusters by default). A class with no agreeing sample falls back to its most confident
    predictions, so every class keeps at least `min_per_class` demonstrations when it has any
    candidate. FreeAL's own rule is `confident_agreeing` (rounded down, no fallback).

    Returns:
        class -> row indices.
    """
    predicted, llm_labels = (
        np.asarray(predicted, dtype=object),
        np.asarray(llm_labels, dtype=object),
    )
    confidence = np.asarray(confidence, dtype=float)
    selected: dict[str, list[int]] = {}
    for label in classes:
        rows = np.flatnonzero((predicted == label) & (llm_labels == label))
        if len(rows) < min_per_class:
            rows = np.flatnonzero(predicted == label)
        rows = rows[np.argsort(-confidence[rows], kind="stable")]
        selected[label] = rows[: max(min_per_class, int(np.ceil(top_fraction * len(rows))))]
    k = per_class or max(1, 100 // max(1, len(classes)))
    return representatives(vectors, selected, per_class=k, seed=seed)
