"""The FreeAL loop of one case: annotate the pool, train robustly, feed demos back, repeat."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmark import progress
from benchmark.augment import llm_backtranslations, llm_paraphrases
from benchmark.case.records import case_dir
from benchmark.case.results import (
    FreeALDemos,
    FreeALPool,
    FreeALPredictions,
    FreeALRound,
    FreeALRun,
    ModelScores,
)
from benchmark.case.spec import CaseSpec, FreeALSpec
from benchmark.classifiers.finetune import encoder_dir
from benchmark.context import RunContext
from benchmark.data.languages import resolve_language
from benchmark.data.loaders import Example, Split, sample_per_label
from benchmark.errors import CaseFailure
from benchmark.freeal.annotate import annotate, annotate_with_demos
from benchmark.freeal.selection import (
    class_counts,
    collapsing_classes,
    confident_agreeing,
    demo_pool,
    representatives,
)
from benchmark.freeal.train import FrozenFeatures, RobustConfig, TrainableEncoder, train_robust
from benchmark.generation.pipeline import generated_training_set
from benchmark.scoring import score


class FreeALFailure(CaseFailure):
    """A FreeAL round cannot go on (e.g. the LLM abstained on nearly every text)."""


def draw_pool(train: Split, size: int, *, seed: int) -> list[Example]:
    """`size` train examples drawn uniformly (the natural label imbalance is kept)."""
    ordered = sorted(train.examples, key=lambda e: e.uid)
    return random.Random(f"freeal-pool:{seed}").sample(ordered, min(size, len(ordered)))


def demo_source(
    spec: CaseSpec, ctx: RunContext, train: Split, pool: Sequence[Example], *, seed: int
) -> tuple[list[tuple[str, str]], FreeALDemos]:
    """The round-0 demonstrations: gold (never pool texts), generated, or none."""
    source = spec.freeal.demo_source
    if source == "none":
        return [], FreeALDemos(source="none", demos=0)
    if source == "gold":
        hidden = {e.uid for e in pool}
        rest = dataclasses.replace(
            train, examples=tuple(e for e in train.examples if e.uid not in hidden)
        )
        chosen = sample_per_label(rest, spec.samples_per_label, seed=seed)
        return [(e.text, e.label) for e in chosen], FreeALDemos(source="gold", demos=len(chosen))

    generation_spec = dataclasses.replace(spec, setting=source, freeal=None)
    folder = case_dir(ctx.results_dir, spec.case_id) / "demo_generation"
    examples, summary = generated_training_set(
        generation_spec, dataclasses.replace(ctx, results_dir=folder), seed=seed
    )
    return [(e.text, e.label) for e in examples], FreeALDemos(
        source=source, demos=len(examples), short_labels=summary.short_labels or []
    )


def consistency_views(
    texts: Sequence[str], method: str, *, backend, language_name: str, seed: int
) -> list[str] | None:
    """One augmented view per pool text for consistency regularisation (None: off)."""

    if method == "none":
        return None
    make = llm_backtranslations if method == "backtranslation" else llm_paraphrases
    return make(list(texts), language_name=language_name, backend=backend, seed=seed)


def feedback_demos(
    vectors: np.ndarray,
    pool_rows: dict[str, list[int]],
    texts: Sequence[str],
    queries: Sequence[int],
    *,
    m: int,
) -> list[list[tuple[str, str]]]:
    """Per query row: the most similar representatives of every class (m // classes each),
    most similar first."""
    per_class = max(1, m // max(1, len(pool_rows)))
    out = []
    for q in queries:
        picked: list[tuple[float, str, int]] = []
        for label, rows in pool_rows.items():
            rows = [r for r in rows if r != q]
            if not rows:
                continue
            sims = vectors[rows] @ vectors[q]
            for k in np.argsort(-sims, kind="stable")[:per_class]:
                picked.append((float(sims[k]), label, rows[k]))
        picked.sort(key=lambda p: -p[0])
        out.append([(texts[r], label) for _, label, r in picked])
    return out


def classifier_features(spec: CaseSpec, ctx: RunContext):
    """(the small model's features, its learning rate) for the case's classifier."""
    clf = spec.classifier
    if clf.features == "frozen":
        return FrozenFeatures(ctx.embedder(clf.encoder)), spec.freeal.lr
    if clf.features == "trainable":
        return TrainableEncoder(encoder_dir(clf.encoder), max_length=clf.max_length), clf.lr
    raise ValueError(
        f"{spec.case_id}: classifier {clf.name!r} declares no features FreeAL's small model can "
        'train on (its options class sets `features = "frozen"` or `"trainable"`)'
    )


@dataclass
class FreeALInputs:
    """What every round of one seed uses: the pool (texts, hidden true labels, retrieval
    vectors, consistency views), the round-0 demos, the test split, the LLM and the small
    model's features and recipe."""

    seed: int
    classes: list[str]
    texts: list[str]
    hidden: list[str]
    test: Split
    backend: Any
    language_name: str
    demos: list[tuple[str, str]]
    demo_info: FreeALDemos
    retriever: Any
    vectors: np.ndarray
    views: Any
    augment_seconds: float
    features: Any
    config: RobustConfig

    @property
    def index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}


def freeal_inputs(spec: CaseSpec, ctx: RunContext, *, seed: int) -> FreeALInputs:
    """Draws the pool and the demos, embeds the pool and asks for its consistency views."""
    fa = spec.freeal
    train = ctx.data.split(spec.dataset, spec.language, "train")
    pool = draw_pool(train, fa.pool_size, seed=seed)
    texts = [e.text for e in pool]
    language_name = resolve_language(spec.language).name
    backend = ctx.backends(spec.generation, spec.model)
    demos, demo_info = demo_source(spec, ctx, train, pool, seed=seed)
    retriever = ctx.embedder(fa.retrieval_encoder)
    vectors = retriever.encode(texts)
    t0 = time.perf_counter()
    progress.stage(f"seed {seed}: {fa.consistency} views of the {len(texts)} pool texts")
    views = consistency_views(
        texts, fa.consistency, backend=backend, language_name=language_name, seed=seed
    )
    augment_seconds = time.perf_counter() - t0
    features, lr = classifier_features(spec, ctx)
    return FreeALInputs(
        seed=seed,
        classes=list(ctx.data.labels(spec.dataset)),
        texts=texts,
        hidden=[e.label for e in pool],
        test=ctx.data.split(spec.dataset, spec.language, "test"),
        backend=backend,
        language_name=language_name,
        demos=demos,
        demo_info=demo_info,
        retriever=retriever,
        vectors=vectors,
        views=views,
        augment_seconds=augment_seconds,
        features=features,
        config=RobustConfig.from_options(spec.freeal, lr=lr),
    )


def llm_round(
    fa: FreeALSpec, run: FreeALInputs, r: int, labels: list[str | None], rows: list[int], result
) -> tuple[list[int], list]:
    """The LLM's part of round `r`: every text in round 0; later, the texts the small model did
    not keep, with its demos. Sets `labels` (kept and fresh); returns (annotated rows, answers).

    `rows` and `result` are the texts the small model trained on last round and its result.
    """
    texts, classes = run.texts, run.classes
    if r == 0:
        todo = list(range(len(texts)))
        fresh = annotate(
            texts,
            labels=classes,
            demos=run.demos,
            embed=run.retriever.encode,
            backend=run.backend,
            language_name=run.language_name,
            m=fa.demos_per_text,
            abstain_margin=fa.abstain_margin,
            calibration=fa.calibration,
        )
    else:
        predicted = [classes[k] for k in result.predicted]
        kept, pool_rows = refinement_split(
            fa, run.vectors[rows], predicted, [labels[i] for i in rows], result, classes, run.seed
        )
        for k in kept:  # kept samples take the small model's label
            labels[rows[k]] = predicted[k]
        kept_rows = {rows[k] for k in kept}
        todo = [i for i in range(len(texts)) if i not in kept_rows]
        pool_rows = {c: [rows[k] for k in found] for c, found in pool_rows.items() if found}
        fresh = annotate_with_demos(
            [texts[i] for i in todo],
            feedback_demos(run.vectors, pool_rows, texts, todo, m=fa.demos_per_text),
            labels=classes,
            backend=run.backend,
            language_name=run.language_name,
            abstain_margin=fa.abstain_margin,
            calibration=fa.calibration,
        )
    for i, ann in zip(todo, fresh, strict=True):
        labels[i] = ann.label
    return todo, fresh


def round_row(
    run: FreeALInputs,
    r: int,
    labels: list[str | None],
    todo: list[int],
    fresh: list,
    rows: list[int],
    result,
    test_scores: dict[str, float],
    previous_counts: dict[str, int] | None,
    seconds: dict[str, float],
) -> FreeALRound:
    """What the record keeps of round `r`."""
    classes, hidden = run.classes, run.hidden
    counts = class_counts(labels, classes)
    clean_labels = [labels[rows[k]] for k in np.flatnonzero(result.clean)]
    abstained = sum(a.label is None for a in fresh)
    return FreeALRound(
        round=r,
        kept=len(run.texts) - len(todo) if r else 0,
        annotated=len(todo),
        abstained=abstained,
        abstention_share=round(abstained / len(todo), 4) if todo else 0.0,
        llm_accuracy_fresh=_accuracy([a.label for a in fresh], [hidden[i] for i in todo]),
        label_accuracy=_accuracy(labels, hidden),
        small_model_pool_accuracy=_accuracy(
            [classes[k] for k in result.predicted], [hidden[i] for i in rows]
        ),
        test_macro_f1=round(test_scores["macro_f1"], 4),
        test_accuracy=round(test_scores["accuracy"], 4),
        label_counts=counts,
        clean_counts=class_counts(clean_labels, classes),
        clean=int(result.clean.sum()),
        classes_present=len({labels[i] for i in rows}),
        collapsing=collapsing_classes(previous_counts, counts) if previous_counts else [],
        seconds={k: round(v, 2) for k, v in seconds.items()},
    )


def run_freeal(spec: CaseSpec, ctx: RunContext, *, seed: int) -> FreeALRun:
    """All rounds of one seed.

    Returns:
        The seed's pool, demos, rounds, final test scores, the two supervised references and
        the test predictions; each round has the LLM's transductive accuracy on the pool,
        abstentions, the small model's test scores, per-class counts, clean counts and
        collapsing classes.
    """
    fa = spec.freeal
    run = freeal_inputs(spec, ctx, seed=seed)
    classes, index, texts, test = run.classes, run.index, run.texts, run.test
    labels: list[str | None] = [None] * len(texts)
    rounds: list[FreeALRound] = []
    result, rows = None, []
    for r in range(fa.rounds):
        t0 = time.perf_counter()
        progress.stage(f"seed {seed}, round {r}: the LLM annotates")
        todo, fresh = llm_round(fa, run, r, labels, rows, result)
        annotate_seconds = time.perf_counter() - t0
        rows = [i for i, lab in enumerate(labels) if lab is not None]
        if not rows:
            raise FreeALFailure(f"round {r}: the LLM abstained on all {len(texts)} pool texts")
        t0 = time.perf_counter()
        progress.stage(f"seed {seed}, round {r}: training the small model on {len(rows)} texts")
        result = train_robust(
            run.features,
            [texts[i] for i in rows],
            [index[labels[i]] for i in rows],
            n_classes=len(classes),
            augmented=[run.views[i] for i in rows] if run.views is not None else None,
            config=run.config,
            seed=seed,
        )
        seconds = {"annotate": annotate_seconds, "train": time.perf_counter() - t0}
        test_predicted = result.model.predict_proba([e.text for e in test.examples]).argmax(1)
        test_scores = score(
            [e.label for e in test.examples], [classes[k] for k in test_predicted], labels=classes
        )
        previous = rounds[-1].label_counts if rounds else None
        rounds.append(
            round_row(run, r, labels, todo, fresh, rows, result, test_scores, previous, seconds)
        )
    return run_block(run, rounds, test_predicted.tolist())


def run_block(run: FreeALInputs, rounds: list[FreeALRound], test_predicted: list[int]) -> FreeALRun:
    """One seed's FreeAL run: pool, demos, rounds, final scores and the supervised references
    (trained here)."""
    final = rounds[-1]
    args = (run.index, run.test, run.config)
    supervised, _ = supervised_reference(run.features, run.texts, run.hidden, *args, seed=run.seed)
    same_budget, same_budget_predicted = None, None
    if run.demo_info.source == "gold":  # the labelled examples this run used (as demos)
        texts, hidden = [t for t, _ in run.demos], [label for _, label in run.demos]
        same_budget, same_budget_predicted = supervised_reference(
            run.features, texts, hidden, *args, seed=run.seed
        )
        same_budget = same_budget.replace(n=len(run.demos))
    return FreeALRun(
        seed=run.seed,
        pool=FreeALPool(size=len(run.texts), label_counts=class_counts(run.hidden, run.classes)),
        demos=run.demo_info,
        augment_seconds=round(run.augment_seconds, 2),
        rounds=rounds,
        final=ModelScores(macro_f1=final.test_macro_f1, accuracy=final.test_accuracy),
        supervised_reference=supervised,
        same_budget_reference=same_budget,
        # label indices per test item, for the paired bootstrap (moved to predictions.json)
        test_predictions=FreeALPredictions(final=test_predicted, same_budget=same_budget_predicted),
    )


def refinement_split(
    fa: FreeALSpec,
    vectors: np.ndarray,
    predicted: Sequence[str],
    llm_labels: Sequence[str | None],
    result,
    classes: Sequence[str],
    seed: int,
) -> tuple[list[int], dict[str, list[int]]]:
    """Which trained rows keep the small model's label, and the class-wise demo pool.

    `refinement: freeal` (FreeAL `mytrainer.py` + `active_labeling_llm.py --refinery`): the
    per-class most confident `feedback_fraction` of label-agreeing rows keep their label; their
    k-means representatives are the demos; every other text is re-annotated.
    `noisy_only`: the GMM-clean rows keep the small model's label, the demo pool is
    `demo_pool`'s (rounded up, with a fallback for classes without agreement).

    Returns:
        (row positions kept, class -> row positions of demonstrations).
    """
    per_class = max(1, 100 // max(1, len(classes)))  # FreeAL: select_demo_num // num_labels
    if fa.refinement == "freeal":
        selected = confident_agreeing(
            predicted,
            llm_labels,
            result.confidence,
            classes=classes,
            fraction=fa.feedback_fraction,
        )
        kept = sorted(k for found in selected.values() for k in found)
        return kept, representatives(vectors, selected, per_class=per_class, seed=seed)
    reps = demo_pool(vectors, predicted, llm_labels, result.confidence, classes=classes, seed=seed)
    return np.flatnonzero(result.clean).tolist(), reps


def supervised_reference(
    features, texts, hidden, index, test, config, *, seed
) -> tuple[ModelScores, list[int]]:
    """Test scores (and label index per test item) of the same small model trained with plain
    cross-entropy on true labels.

    Used twice: on the pool's true labels (upper bound) and on the gold demos a run used (the
    same labelled budget as the run).
    """
    # plain cross-entropy: the legacy loss with every epoch a warm-up epoch
    plain = dataclasses.replace(config, loss="legacy", warmup_epochs=config.epochs)
    result = train_robust(
        features,
        texts,
        [index[h] for h in hidden],
        n_classes=len(index),
        augmented=None,
        config=plain,
        seed=seed,
    )
    classes = list(index)
    predicted = result.model.predict_proba([e.text for e in test.examples]).argmax(1)
    scores = score(
        [e.label for e in test.examples], [classes[k] for k in predicted], labels=classes
    )
    rounded = ModelScores(
        macro_f1=round(scores["macro_f1"], 4), accuracy=round(scores["accuracy"], 4)
    )
    return rounded, predicted.tolist()


def _accuracy(predicted: Sequence[str | None], gold: Sequence[str]) -> float:
    """Percentage of matches (an abstention counts as wrong); 0 for no items."""
    if not gold:
        return 0.0
    return round(100.0 * sum(p == g for p, g in zip(predicted, gold, strict=True)) / len(gold), 2)
