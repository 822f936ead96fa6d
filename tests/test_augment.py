from __future__ import annotations

import random

from benchmark.augment import eda, eda_variants, llm_backtranslations, llm_paraphrases
from benchmark.case.spec import CaseSpec
from benchmark.classifiers.embed_logreg import EmbedLogregSpec
from benchmark.context import RunContext
from benchmark.runner.run import run_case


def test_eda_is_seeded_and_keeps_words():
    text = "the football team won the match yesterday evening"
    a = eda_variants([text] * 5, seed=3)
    assert a == eda_variants([text] * 5, seed=3)
    assert any(v != text for v in a)
    assert eda("single", rng=random.Random(0)) == "single"


class Echo:
    """A fake chat backend: paraphrase = upper case, translation = tagged text."""

    def generate(self, requests, *, on_result=None):
        out = []
        for request in requests:
            text = request.messages[-1][1].rsplit("\n", 1)[-1]
            prompt = request.messages[-1][1]
            reply = text.upper() if "Rewrite" in prompt else f"[{prompt.split()[2]}] {text}"
            out.append(type("R", (), {"text": reply})())
        return out


def test_llm_augmentations_batch_and_keep_order():
    texts = ["habari ya leo rafiki", "mvua inanyesha sana leo"]
    assert llm_paraphrases(texts, language_name="Swahili", backend=Echo(), seed=0) == [
        t.upper() for t in texts
    ]
    back = llm_backtranslations(texts, language_name="Swahili", backend=Echo(), seed=0)
    assert len(back) == 2 and all(t in b for t, b in zip(texts, back, strict=True))


def test_gold_plus_eda_adds_variants_of_the_demos(tmp_path, sib_fixture_dir):
    spec = CaseSpec(
        dataset="sib200",
        language="sw",
        setting="gold",
        model=None,
        samples_per_label=3,
        gold_sampling="at_most",
        seeds=(0,),
        classifier=EmbedLogregSpec(encoder="tiny-random").model_dump(),
        generation=None,
        augmentation={"method": "eda", "demos_per_label": 2},
    )
    assert spec.case_id.endswith("-n3-aug_eda-logreg_tiny_random")
    record = run_case(
        spec, RunContext(results_dir=tmp_path / "results", data_dir=sib_fixture_dir, figures=False)
    )
    info = record["data"]["train"]["augmentation"]
    assert info["demos"] == 14 and 0 < info["variants"] <= 14
    assert record["n_train"] == 21 + info["variants"]
