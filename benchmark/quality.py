"""Quality of a generated set: language fidelity, diversity, noise, label fidelity, distance to gold.

Language identification uses `py3langid` (langid.py's model, 97 languages, all 11 study languages
included); a sample counts as in the target language only when it is the top prediction.
Embedding metrics use the case's sentence encoder (e5-small by default), through its cache.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np


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


def generated_set_quality(
    generated: Sequence[tuple[str, str]],
    *,
    language: str,
    gold: Sequence[tuple[str, str]],
    encoder: str,
    candidates: dict[str, int],
) -> dict[str, Any]:
    """All metrics of one generated training set.

    Args:
        generated: (text, label) of the kept samples.
        language: short code of the target language.
        gold: (text, label) gold train samples of the same language (for distance and label
            fidelity).
        encoder: embedder name of the registry.
        candidates: counts of parsed candidates by status (kept, duplicate, demo_copy, ...).

    Returns:
        Metric name -> value (rates in [0, 1]).
    """
    from benchmark.encoders.embedder import load_embedder

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
    "distinct_1",
    "distinct_2",
    "duplicate_rate",
    "demo_copy_rate",
    "mean_pairwise_cosine",
    "centroid_cosine_to_gold",
    "label_fidelity",
)
