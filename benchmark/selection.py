"""Selecting k samples from a pool of generated candidates (one label at a time).

Each strategy is a function `(vectors, k, *, seed, gold=None, ...) -> indices` over unit-length
embeddings (rows of `vectors`); `gold` holds the gold demos' embeddings where a strategy uses
them. All are vectorised: distances to the selected set are updated incrementally, never
recomputed from scratch. Strategies are registered in `SELECTORS`; pool-level methods (scores
over the whole pool, the top n per label kept) in `POOL_METHODS`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchmark.registry import Registry

Selector = Callable[..., np.ndarray]
# (vectors, labels, *, seed, gold, gold_labels) -> one score per row; higher is kept first
PoolMethod = Callable[..., np.ndarray]
SELECTORS: Registry[Selector] = Registry("selector")
POOL_METHODS: Registry[PoolMethod] = Registry("pool selection")


def _check(vectors: np.ndarray, k: int) -> int:
    if vectors.ndim != 2:
        raise ValueError(f"vectors must be 2-D, got shape {vectors.shape}")
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return min(k, len(vectors))


@SELECTORS.register("random")
def select_random(vectors: np.ndarray, k: int, *, seed: int, **_) -> np.ndarray:
    """k indices uniformly without replacement."""
    k = _check(vectors, k)
    return np.random.default_rng(seed).choice(len(vectors), size=k, replace=False)


def _greedy_mean_similarity(vectors: np.ndarray, k: int, *, most: bool) -> np.ndarray:
    """Greedy: start nearest the centroid, then add the item with the highest (or lowest)
    mean cosine to the items chosen so far."""
    k = _check(vectors, k)
    if k == 0:
        return np.empty(0, dtype=int)
    centroid = vectors.mean(0)
    chosen = [int(np.argmax(vectors @ centroid))]
    sums = vectors @ vectors[chosen[0]]
    available = np.ones(len(vectors), dtype=bool)
    available[chosen[0]] = False
    for _ in range(k - 1):
        scores = np.where(available, sums if most else -sums, -np.inf)
        nxt = int(np.argmax(scores))
        chosen.append(nxt)
        available[nxt] = False
        sums += vectors @ vectors[nxt]
    return np.asarray(chosen)


@SELECTORS.register("most_similar")
def select_most_similar(vectors: np.ndarray, k: int, **_) -> np.ndarray:
    """The most mutually similar items (typical samples)."""
    return _greedy_mean_similarity(vectors, k, most=True)


@SELECTORS.register("most_diverse")
def select_most_diverse(vectors: np.ndarray, k: int, **_) -> np.ndarray:
    """The least mutually similar items."""
    return _greedy_mean_similarity(vectors, k, most=False)


def _centroid_distance(vectors: np.ndarray) -> np.ndarray:
    centroid = vectors.mean(0)
    return np.linalg.norm(vectors - centroid, axis=1)


@SELECTORS.register("outliers")
def select_outliers(vectors: np.ndarray, k: int, **_) -> np.ndarray:
    """The k items farthest from the label centroid."""
    k = _check(vectors, k)
    return np.argsort(-_centroid_distance(vectors), kind="stable")[:k]


@SELECTORS.register("reverse_outliers")
def select_reverse_outliers(vectors: np.ndarray, k: int, **_) -> np.ndarray:
    """The k items closest to the label centroid."""
    k = _check(vectors, k)
    return np.argsort(_centroid_distance(vectors), kind="stable")[:k]


def _distances(vectors: np.ndarray, point: np.ndarray, metric: str) -> np.ndarray:
    if metric == "cosine":
        return 1.0 - vectors @ point
    if metric == "euclidean":
        return np.linalg.norm(vectors - point, axis=1)
    raise ValueError(f"unknown metric {metric!r}; expected 'cosine' or 'euclidean'")


@SELECTORS.register("kcenter")
def select_kcenter(
    vectors: np.ndarray,
    k: int,
    *,
    seed: int,
    gold: np.ndarray | None = None,
    metric: str = "cosine",
    **_,
) -> np.ndarray:
    """Greedy k-center coreset: repeatedly add the item farthest from everything chosen.

    Args:
        vectors: candidate embeddings.
        k: how many to pick.
        seed: picks the first centre when no gold demos seed the set.
        gold: optional gold demo embeddings that count as already chosen.
        metric: "cosine" or "euclidean".

    Returns:
        Indices in pick order.
    """
    k = _check(vectors, k)
    if k == 0:
        return np.empty(0, dtype=int)
    if gold is not None and len(gold):
        min_dist = np.min(np.stack([_distances(vectors, g, metric) for g in gold]), axis=0)
        chosen: list[int] = []
    else:
        first = int(np.random.default_rng(seed).integers(len(vectors)))
        chosen = [first]
        min_dist = _distances(vectors, vectors[first], metric)
    min_dist = min_dist.astype(np.float64)
    for _ in range(k - len(chosen)):
        if chosen:
            min_dist[chosen[-1]] = -np.inf
        nxt = int(np.argmax(min_dist))
        chosen.append(nxt)
        np.minimum(min_dist, _distances(vectors, vectors[nxt], metric), out=min_dist)
        min_dist[nxt] = -np.inf
    return np.asarray(chosen)


def select_kcenter_naive(
    vectors: np.ndarray, k: int, *, seed: int, metric: str = "cosine", **_
) -> np.ndarray:
    """Reference k-center that recomputes all distances to the chosen set at every step
    (for the speed benchmark and as a test oracle)."""
    k = _check(vectors, k)
    chosen = [int(np.random.default_rng(seed).integers(len(vectors)))]
    while len(chosen) < k:
        dist = np.min(np.stack([_distances(vectors, vectors[c], metric) for c in chosen]), axis=0)
        dist[chosen] = -np.inf
        chosen.append(int(np.argmax(dist)))
    return np.asarray(chosen[:k])


@SELECTORS.register("lightweight_coreset")
def select_lightweight_coreset(vectors: np.ndarray, k: int, *, seed: int, **_) -> np.ndarray:
    """Lightweight coreset (Bachem et al. 2018): sample with q(x) = 1/2n + d(x, mean)^2 / 2 sum d^2."""
    k = _check(vectors, k)
    d2 = _centroid_distance(vectors) ** 2
    q = 0.5 / len(vectors) + 0.5 * d2 / max(d2.sum(), 1e-12)
    return np.random.default_rng(seed).choice(len(vectors), size=k, replace=False, p=q / q.sum())


@SELECTORS.register("density_coreset")
def select_density_coreset(
    vectors: np.ndarray, k: int, *, seed: int, neighbours: int = 5, **_
) -> np.ndarray:
    """k-center over the denser half: skip items whose mean cosine to their nearest neighbours
    is below the median (likely noise), then run greedy k-center."""
    k = _check(vectors, k)
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    m = min(neighbours, len(vectors) - 1)
    if m < 1:
        return select_kcenter(vectors, k, seed=seed)
    density = np.sort(sims, axis=1)[:, -m:].mean(1)
    dense = np.flatnonzero(density >= np.median(density))
    if len(dense) < k:
        dense = np.argsort(-density, kind="stable")[:k]
    return dense[select_kcenter(vectors[dense], k, seed=seed)]


@SELECTORS.register("adaptive_threshold")
def select_adaptive_threshold(
    vectors: np.ndarray, k: int, *, seed: int, lam: float = 1.0, **_
) -> np.ndarray:
    """Drop items farther from the centroid than mean + lam * std, then pick randomly."""
    k = _check(vectors, k)
    dist = _centroid_distance(vectors)
    inside = np.flatnonzero(dist <= dist.mean() + lam * dist.std())
    if len(inside) < k:
        inside = np.argsort(dist, kind="stable")[:k]
    return np.random.default_rng(seed).choice(inside, size=k, replace=False)


@SELECTORS.register("max_gold_similarity")
def select_max_gold_similarity(
    vectors: np.ndarray, k: int, *, gold: np.ndarray | None = None, **_
) -> np.ndarray:
    """The k items with the highest maximum cosine to any gold demo."""
    k = _check(vectors, k)
    if gold is None or not len(gold):
        raise ValueError("max_gold_similarity needs the gold demos' embeddings")
    return np.argsort(-(vectors @ gold.T).max(1), kind="stable")[:k]


# -- pool-level strategies: scored with all labels at once, then the top n per label ----------


def cartography(
    vectors: np.ndarray, labels: list[str], *, seed: int, epochs: int = 6
) -> tuple[np.ndarray, np.ndarray]:
    """Dataset cartography (Swayamdipta et al. 2020) on frozen embeddings.

    A linear classifier trains on the pool for a few epochs; after each epoch the probability of
    every sample's own label is recorded.

    Returns:
        (confidence, variability): mean and standard deviation of that probability over epochs.
    """
    from sklearn.linear_model import SGDClassifier

    classes = np.asarray(sorted(set(labels)))
    y = np.asarray(labels)
    index = np.searchsorted(classes, y)
    model = SGDClassifier(loss="log_loss", alpha=1e-4, random_state=seed)
    rng = np.random.default_rng(seed)
    history = []
    for _ in range(epochs):
        order = rng.permutation(len(y))
        model.partial_fit(vectors[order], y[order], classes=classes)
        history.append(model.predict_proba(vectors)[np.arange(len(y)), index])
    probs = np.stack(history)
    return probs.mean(0), probs.std(0)


def label_consistency(
    vectors: np.ndarray, labels: list[str], *, gold: np.ndarray, gold_labels: list[str], **_
) -> np.ndarray:
    """Probability of each sample's own label under a classifier trained on the gold demos;
    0 where the classifier predicts another label (those are dropped first)."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=2000).fit(gold, gold_labels)
    probs = model.predict_proba(vectors)
    classes = list(model.classes_)
    own = np.asarray(
        [probs[i, classes.index(lab)] if lab in classes else 0.0 for i, lab in enumerate(labels)]
    )
    agrees = model.predict(vectors) == np.asarray(labels)
    return np.where(agrees, own, 0.0)


@POOL_METHODS.register("cartography_easy")
def cartography_easy(vectors: np.ndarray, labels: list[str], *, seed: int, **_) -> np.ndarray:
    """Easy-to-learn samples first: high confidence."""
    return cartography(vectors, labels, seed=seed)[0]


@POOL_METHODS.register("cartography_ambiguous")
def cartography_ambiguous(vectors: np.ndarray, labels: list[str], *, seed: int, **_) -> np.ndarray:
    """Ambiguous samples first: high variability."""
    return cartography(vectors, labels, seed=seed)[1]


@POOL_METHODS.register("cartography_hard")
def cartography_hard(vectors: np.ndarray, labels: list[str], *, seed: int, **_) -> np.ndarray:
    """Hard-to-learn samples first: low confidence."""
    return -cartography(vectors, labels, seed=seed)[0]


POOL_METHODS.add("label_consistency", label_consistency)


def pool_scores(
    method: str,
    vectors: np.ndarray,
    labels: list[str],
    *,
    seed: int,
    gold: np.ndarray,
    gold_labels: list[str],
) -> np.ndarray:
    """Scores for a pool-level method; within each label the highest scores are kept."""
    return POOL_METHODS.get(method)(vectors, labels, seed=seed, gold=gold, gold_labels=gold_labels)
