from __future__ import annotations

import pytest

from benchmark.classifiers import build_classifier
from benchmark.classifiers.embed_logreg import EmbedLogregSpec
from benchmark.classifiers.finetune import FinetuneSpec, normalise_text
from benchmark.data.loaders import SIB200_TOPICS, load_split
from benchmark.scoring import aggregate, score


def splits(data_dir):
    return [load_split("sib200", "en", s, data_dir=data_dir) for s in ("train", "dev", "test")]


def test_study_preprocessing():
    assert (
        normalise_text("Wake me UP, at 9!", lowercase=True, strip_punctuation=True)
        == "wake me up at 9"
    )
    assert (
        normalise_text("«Habari» ya leo?", lowercase=False, strip_punctuation=True)
        == "Habari ya leo"
    )


def test_finetune_early_stops_on_dev_and_predicts_labels(sib_fixture_dir):
    train, dev, test = splits(sib_fixture_dir)
    spec = FinetuneSpec(
        encoder="tiny-random", lr=1e-3, batch_size=8, max_epochs=6, patience=2
    ).model_dump()
    clf = build_classifier(spec, labels=SIB200_TOPICS)
    info = clf.fit(
        [e.text for e in train.examples],
        [e.label for e in train.examples],
        dev_texts=[e.text for e in dev.examples],
        dev_labels=[e.label for e in dev.examples],
        seed=0,
    )
    assert 1 <= info.details["epochs_run"] <= 6
    assert len(info.details["dev_loss_history"]) == info.details["epochs_run"]
    assert info.details["best_dev_loss"] == pytest.approx(
        min(info.details["dev_loss_history"]), abs=1e-4
    )
    predicted = clf.predict([e.text for e in test.examples])
    assert len(predicted) == len(test.examples) and set(predicted) <= set(SIB200_TOPICS)


def test_embed_logreg_learns_the_fixture(sib_fixture_dir):
    train, dev, test = splits(sib_fixture_dir)
    clf = build_classifier(
        EmbedLogregSpec(encoder="tiny-random").model_dump(), labels=SIB200_TOPICS
    )
    clf.fit(
        [e.text for e in train.examples],
        [e.label for e in train.examples],
        dev_texts=[],
        dev_labels=[],
        seed=0,
    )
    scores = score(
        [e.label for e in test.examples],
        clf.predict([e.text for e in test.examples]),
        labels=SIB200_TOPICS,
    )
    assert scores["macro_f1"] > 100 / 7  # better than chance


def test_aggregate_mean_and_std():
    out = aggregate([{"macro_f1": 50.0}, {"macro_f1": 70.0}])
    assert out["macro_f1_mean"] == 60.0 and out["macro_f1_std"] == pytest.approx(14.1421, abs=1e-3)


def test_unknown_classifier_name():
    with pytest.raises(KeyError, match="known: embed-logreg, finetune"):
        build_classifier({"name": "svm"}, labels=SIB200_TOPICS)


def test_class_weights_are_inverse_to_label_counts():
    from benchmark.classifiers.finetune import class_weights

    weights = class_weights([0, 0, 0, 1], 3, "balanced")
    assert weights == pytest.approx([4 / 6, 4 / 2, 0.0])
    assert class_weights([0, 1], 2, "none") is None


def test_balanced_logreg_does_not_drown_a_small_label(sib_fixture_dir):
    """One label with many examples, one with a single example: unweighted logistic regression
    predicts only the big label; balanced weights give the small one its share."""
    import numpy as np

    from benchmark.classifiers.embed_logreg import EmbedLogregClassifier

    rng = np.random.default_rng(0)
    big, small = rng.normal(0, 1, (60, 8)), rng.normal(1.5, 1, (2, 8))

    class Vectors:  # the embedder's interface, over fixed vectors
        fingerprint = "fixed"

        def __init__(self):
            self.table = {f"b{i}": v for i, v in enumerate(big)} | {
                f"s{i}": v for i, v in enumerate(small)
            }

        def encode(self, texts):
            return np.stack([self.table[t] for t in texts])

    texts = [f"b{i}" for i in range(60)] + ["s0", "s1"]
    labels = ["big"] * 60 + ["small"] * 2
    predicted = {}
    for mode in ("none", "balanced"):
        clf = EmbedLogregClassifier.__new__(EmbedLogregClassifier)
        clf.spec = EmbedLogregSpec(class_weight=mode, c=0.05)
        clf.labels, clf.embedder, clf.model = ["big", "small"], Vectors(), None
        clf.fit(texts, labels, dev_texts=[], dev_labels=[], seed=0)
        predicted[mode] = clf.predict(["s0", "s1"])
    assert predicted["none"] == ["big", "big"]
    assert predicted["balanced"] == ["small", "small"]


def test_classifiers_declare_what_freeal_and_quality_need():
    """FreeAL and the quality metrics read a classifier's declared capabilities, not its name."""
    from benchmark.case.spec import CLASSIFIERS

    logreg = CLASSIFIERS.get("embed-logreg").of({"name": "embed-logreg", "encoder": "tiny-random"})
    finetune = CLASSIFIERS.get("finetune").of({"name": "finetune"})
    assert (logreg.features, finetune.features) == ("frozen", "trainable")
    assert logreg.quality_encoder() == "tiny-random"  # embeds with its own frozen encoder
    assert finetune.quality_encoder() == "e5-small"


def test_freeal_refuses_a_classifier_without_features(tmp_path, sib_fixture_dir):
    import pytest

    from benchmark.case.spec import ClassifierOptions
    from benchmark.context import RunContext
    from benchmark.freeal.rounds import classifier_features

    class NoFeatures(ClassifierOptions):
        slug_prefix = "nf"
        implementation = object
        name: str = "no-features"

    spec = type("Spec", (), {"classifier": NoFeatures(), "case_id": "case-x"})()
    ctx = RunContext(results_dir=tmp_path, data_dir=sib_fixture_dir, figures=False)
    with pytest.raises(ValueError, match="declares no features"):
        classifier_features(spec, ctx)
