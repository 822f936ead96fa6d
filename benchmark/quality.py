"""Quality of a generated set: language fidelity, diversity, noise, label fidelity, distance to gold.

Language identification uses `py3langid` (langid.py's model, 97 languages, all 11 study languages
included); a sample counts as in the target language only when it is the top prediction. Lexical
validity is the mean share of a sample's words found in the language's gold train vocabulary
(`benchmark.generation.gates.train_vocabulary`): py3langid passes fluent-looking gibberish, this
does not.
Embedding metrics use the case's sentence encoder (e5-small by default), through its cache.
Likely label errors are found by confident learning (`label_error_rate`) on the generated set's own
embeddings; the distribution distance to gold is a Fréchet distance (`frechet_distance`, as in FID).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from benchmark.encoders.embedder import Embedder, load_embedder
from benchmark.generation.gates import Vocabulary, lexical_validity


def language_fidelity(texts: Sequence[str], language: str) -> float:
    """Share of texts whose most likely language (py3langid) is `language`."""
    import py3langid

    if not texts:
        return 0.0
    return sum(py3langid.classify(t)[0] == language for t in texts) / len(texts)


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Unique n-grams over all n-grams of lower-cased whitespace tokens (characters when a
    text has no spaces, as in Thai)."""
    grams: Counter[tuple[str, ...]] = Counter()
    for text in texts:
        tokens = text.lower().split()
        if len(tokens) <= 1:
            tokens = list(text.replace(" ", ""))
        grams.update(zip(*(tokens[i:] for i in range(n)), strict=False))
    total = sum(grams.values())
    return len(grams) / total if total else 0.0


def mean_pairwise_cosine(vectors: np.ndarray, *, max_items: int = 2000, seed: int = 0) -> float:
    """Mean cosine between distinct pairs of unit vectors (a random subset when large)."""
    if len(vectors) < 2:
        return 0.0
    if len(vectors) > max_items:
        vectors = vectors[
            np.random.default_rng(seed).choice(len(vectors), max_items, replace=False)
        ]
    sims = vectors @ vectors.T
    n = len(vectors)
    return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))


def centroid_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine between the mean vectors of two sets."""
    ca, cb = a.mean(0), b.mean(0)
    return float(ca @ cb / (np.linalg.norm(ca) * np.linalg.norm(cb) + 1e-12))


def label_fidelity(
    gold_vectors: np.ndarray, gold_labels: Sequence[str], vectors: np.ndarray, labels: Sequence[str]
) -> float:
    """Agreement of a logistic regression trained on gold embeddings with the generated labels."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=2000).fit(gold_vectors, list(gold_labels))
    return float(np.mean(model.predict(vectors) == np.asarray(labels)))


def likely_label_errors(
    vectors: np.ndarray, labels: Sequence[str], *, folds: int = 5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray] | None:
    """Samples that confident learning flags as likely label errors.

    Confident learning (Northcutt, Jiang and Chuang, JAIR 2021), without cleanlab: out-of-sample
    class probabilities `p` come from a logistic regression cross-validated on the set's own
    embeddings (stratified, `folds` folds, fewer when the smallest class has fewer samples). The
    threshold of class j is the mean self-confidence `t_j = mean p_j` over the samples labelled j.
    A sample counts towards class k of the confident joint when `p_k >= t_k`, taking the most
    probable such class when several pass; it is a likely error when that class is not its given
    label (the off-diagonal of the confident joint) and the model's top prediction is not its given
    label either (as in cleanlab's `find_label_issues(filter_by="confident_learning")`).

    Samples of a class with a single sample cannot be cross-validated: they are left out (not
    assessed, never flagged).

    Args:
        vectors: (n, dim) embeddings.
        labels: n labels.
        folds: most cross-validation folds.
        seed: seed of the fold split.

    Returns:
        (flagged, assessed) boolean masks over the n samples, or None when fewer than two classes
        with at least two samples exist (an empty set, one class, only singletons).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    labels = np.asarray(list(labels))
    if len(labels) == 0:
        return None
    names, counts = np.unique(labels, return_counts=True)
    assessed = np.isin(labels, names[counts >= 2])
    classes, y = np.unique(labels[assessed], return_inverse=True)
    if len(classes) < 2:
        return None
    x = np.asarray(vectors)[assessed]
    n_splits = int(min(folds, np.bincount(y).min()))
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    probs = cross_val_predict(
        LogisticRegression(max_iter=2000), x, y, cv=cv, method="predict_proba"
    )
    thresholds = np.array([probs[y == j, j].mean() for j in range(len(classes))])
    confident = probs >= thresholds - 1e-6
    confident_class = np.where(confident, probs, -np.inf).argmax(axis=1)
    off_diagonal = confident.any(axis=1) & (confident_class != y)
    flagged = np.zeros(len(labels), dtype=bool)
    flagged[assessed] = off_diagonal & (probs.argmax(axis=1) != y)
    return flagged, assessed


def label_error_rate(
    vectors: np.ndarray, labels: Sequence[str], *, folds: int = 5, seed: int = 0
) -> float | None:
    """Share of the assessed samples that `likely_label_errors` flags (confident learning).

    Samples of single-sample classes are not assessed and not counted. Returns None, meaning
    "undefined", when fewer than two classes have at least two samples (an empty set, one class,
    only singletons); 0.0 means no sample was flagged.
    """
    found = likely_label_errors(vectors, labels, folds=folds, seed=seed)
    if found is None:
        return None
    flagged, assessed = found
    return float(flagged.sum() / assessed.sum())


def frechet_distance(a: np.ndarray, b: np.ndarray, *, ridge: float = 1e-6) -> float | None:
    """Fréchet distance between Gaussians fitted to two embedding sets (as FID does).

    `||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 sqrt(S_a S_b))`, with `scipy.linalg.sqrtm`, its real
    part, and the result clamped at 0. With fewer samples than dimensions the covariances are
    rank-deficient (and sqrtm slow and unstable), so `ridge * I` is added to both; directions
    that neither set spans then contribute 0, and the value stays comparable across cases of the
    same set sizes (the estimate is biased upwards for small sets, as FID is).

    Returns:
        The distance (0 for identical sets), or None when a set has fewer than 2 samples.
    """
    from scipy.linalg import sqrtm

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 2 or len(b) < 2:
        return None
    eye = ridge * np.eye(a.shape[1])
    cov_a = np.cov(a, rowvar=False) + eye
    cov_b = np.cov(b, rowvar=False) + eye
    cross = np.real(np.trace(sqrtm(cov_a @ cov_b)))
    diff = a.mean(0) - b.mean(0)
    value = float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * cross)
    return max(value, 0.0)


def generated_set_quality(
    generated: Sequence[tuple[str, str]],
    *,
    language: str,
    gold: Sequence[tuple[str, str]],
    encoder: str,
    candidates: dict[str, int],
    vocabulary: Vocabulary | None = None,
    load_embedder: Callable[[str], Embedder] = load_embedder,
) -> dict[str, Any]:
    """All metrics of one generated training set.

    Args:
        generated: (text, label) of the kept samples.
        language: short code of the target language.
        gold: (text, label) gold train samples of the same language (for distance and label
            fidelity; `frechet_to_gold` depends on the sizes of both sets).
        encoder: embedder name of the registry.
        candidates: counts of parsed candidates by status (kept, duplicate, demo_copy, ...).
        vocabulary: the language's gold train vocabulary; `lexical_validity` is absent without.
        load_embedder: loads the embedder by name (`RunContext.embedder` in a run).

    Returns:
        Metric name -> value (rates in [0, 1]). `label_error_rate` (see `label_error_rate`) and
        `frechet_to_gold` (see `frechet_distance`) are None when undefined; every embedding
        metric is absent when fewer than 2 samples were kept.
    """
    texts = [t for t, _ in generated]
    parsed = sum(candidates.values()) or 1
    out: dict[str, Any] = {
        "n": len(texts),
        "language_fidelity": language_fidelity(texts, language),
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
        "duplicate_rate": candidates.get("duplicate", 0) / parsed,
        "demo_copy_rate": candidates.get("demo_copy", 0) / parsed,
        "gold_language_fidelity": language_fidelity([t for t, _ in gold], language),
    }
    if vocabulary is not None:
        out["lexical_validity"] = lexical_validity(texts, vocabulary)
    if len(texts) < 2:
        return out
    embedder = load_embedder(encoder)
    vectors = embedder.encode(texts)
    gold_vectors = embedder.encode([t for t, _ in gold])
    out["mean_pairwise_cosine"] = mean_pairwise_cosine(vectors)
    out["gold_mean_pairwise_cosine"] = mean_pairwise_cosine(gold_vectors)
    out["centroid_cosine_to_gold"] = centroid_cosine(vectors, gold_vectors)
    out["label_fidelity"] = label_fidelity(
        gold_vectors, [lab for _, lab in gold], vectors, [lab for _, lab in generated]
    )
    out["label_error_rate"] = label_error_rate(vectors, [lab for _, lab in generated])
    out["frechet_to_gold"] = frechet_distance(vectors, gold_vectors)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


def spearman_table(
    rows: Sequence[dict[str, Any]], metrics: Sequence[str]
) -> list[tuple[str, float | None, int]]:
    """Spearman correlation of each metric with downstream macro-F1 across cases.

    Args:
        rows: dicts with the metric values and `macro_f1`.
        metrics: metric names.

    Returns:
        (metric, rho or None when undefined, number of cases), best |rho| first.
    """
    from scipy.stats import spearmanr

    table = []
    for metric in metrics:
        pairs = [(r[metric], r["macro_f1"]) for r in rows if r.get(metric) is not None]
        rho = None
        if len(pairs) >= 3 and len({p[0] for p in pairs}) > 1:
            rho = float(spearmanr([p[0] for p in pairs], [p[1] for p in pairs]).statistic)
        table.append((metric, rho, len(pairs)))
    return sorted(table, key=lambda x: (x[1] is None, -abs(x[1] or 0), x[0]))


QUALITY_METRICS = (
    "language_fidelity",
    "lexical_validity",
    "distinct_1",
    "distinct_2",
    "duplicate_rate",
    "demo_copy_rate",
    "mean_pairwise_cosine",
    "centroid_cosine_to_gold",
    "label_fidelity",
    "label_error_rate",
    "frechet_to_gold",
)
