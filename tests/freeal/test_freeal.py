from __future__ import annotations

import numpy as np

from benchmark.freeal.annotate import annotate, retrieve
from benchmark.freeal.selection import clean_mask, collapsing_classes, demo_pool
from benchmark.llm.backend import ChoiceResponse


def planted(seed=0):
    """300 samples, 3 classes, 20% label errors with high loss; class 'c' is harder overall."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(["a", "b", "c"], 100)
    noisy = rng.random(300) < 0.2
    losses = np.where(noisy, rng.normal(2.0, 0.3, 300), rng.normal(0.2, 0.08, 300))
    losses[labels == "c"] += 0.6  # a hard class: all its losses are higher
    return losses.clip(0), labels, noisy


def test_gmm_recovers_most_planted_errors():
    losses, labels, noisy = planted()
    clean = clean_mask(losses, labels)
    caught = (~clean & noisy).sum() / noisy.sum()
    assert caught > 0.9
    assert (clean & ~noisy).sum() / (~noisy).sum() > 0.6


def test_class_balanced_selection_keeps_the_hard_class():
    losses, labels, noisy = planted()
    reference = clean_mask(losses, labels)
    balanced = clean_mask(losses, labels, class_balanced=True, min_per_class=10)
    hard = labels == "c"
    assert balanced[hard].sum() >= max(10, reference[hard].sum())
    assert (~balanced[hard] & noisy[hard]).sum() / noisy[hard].sum() > 0.8


def test_collapse_detection():
    assert collapsing_classes({"a": 50, "b": 40, "None": 3}, {"a": 48, "b": 10}) == ["b"]


def test_demo_pool_covers_every_class_even_without_agreement():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(60, 8))
    predicted = ["a"] * 30 + ["b"] * 25 + ["c"] * 5
    llm = ["a"] * 30 + ["b"] * 25 + ["a"] * 5  # the LLM never says "c"
    pool = demo_pool(vectors, predicted, llm, rng.random(60), classes=["a", "b", "c"], per_class=3)
    assert all(pool[c] for c in ("a", "b", "c"))
    assert all(predicted[i] == c for c, rows in pool.items() for i in rows)


def test_retrieve_returns_most_similar_first():
    pool = np.eye(3)
    query = np.array([[0.0, 0.9, 0.1]])
    assert retrieve(query, pool, 2).tolist() == [[1, 2]]


class Chooser:
    """Picks the label named in the text; near-ties (texts with '?') become abstentions."""

    def choose(self, requests, *, on_result=None):
        out = []
        for request in requests:
            text = request.messages[-1][1].split("Text: ")[-1].split("\n")[0]
            best = next((c for c in request.choices if c in text), request.choices[0])
            margin = 0.01 if "?" in text else 3.0
            out.append(
                ChoiceResponse(best, {c: (0.0 if c == best else -margin) for c in request.choices})
            )
        return out


def test_annotation_with_retrieved_demos_and_abstentions():
    embed = lambda texts: np.eye(4)[[len(t) % 4 for t in texts]]  # noqa: E731 - tiny fake encoder
    texts = ["about sports", "about politics", "sports or politics?"]
    out = annotate(
        texts,
        labels=["sports", "politics"],
        demos=[("a sports demo", "sports")],
        embed=embed,
        backend=Chooser(),
        language_name="English",
        m=1,
        abstain_margin=0.5,
    )
    assert [a.label for a in out] == ["sports", "politics", None]
    zero_shot = annotate(
        texts,
        labels=["sports", "politics"],
        demos=[],
        embed=embed,
        backend=Chooser(),
        language_name="English",
    )
    assert [a.label for a in zero_shot][:2] == ["sports", "politics"]


class BiasedChooser:
    """Scores the true label (named in the text) +1, but every text's label "a" gets +3."""

    def choose(self, requests, *, on_result=None):
        out = []
        for request in requests:
            text = request.messages[-1][1].split("Text: ")[-1].split("\n")[0]
            scores = {
                c: (1.0 if c in text.split() else 0.0) + (3.0 if c == "a" else 0.0)
                for c in request.choices
            }
            out.append(ChoiceResponse(max(scores, key=scores.get), scores))
        return out


def test_batch_calibration_removes_a_label_prior():
    from benchmark.freeal.annotate import annotate_with_demos

    texts = [f"text {label} {i}" for label in ("a", "b", "c") for i in range(10)]
    truth = [t.split()[1] for t in texts]
    kwargs = dict(labels=["a", "b", "c"], backend=BiasedChooser(), language_name="English")
    plain = annotate_with_demos(texts, [[]] * len(texts), **kwargs)
    calibrated = annotate_with_demos(texts, [[]] * len(texts), calibration="batch", **kwargs)
    assert {a.label for a in plain} == {"a"}  # the prior wins everywhere
    assert [a.label for a in calibrated] == truth
