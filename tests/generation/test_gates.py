"""Quality gates: what they drop on real data, the task-file axis, and the scheduler hook."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from benchmark.case.spec import CaseSpec, GenerationOptions, TaskFileError
from benchmark.classifiers.embed_logreg import EmbedLogregSpec
from benchmark.context import RunContext
from benchmark.data.languages import resolve_language
from benchmark.data.loaders import load_split
from benchmark.generation.gates import (
    ChatterGate,
    LanguageGate,
    Verdict,
    failed_gates,
    gate_spec,
    lexical_units,
    parse_gate_set,
    train_vocabulary,
)
from benchmark.runner.quality_backfill import spec_from_record
from benchmark.runner.run import run_case
from benchmark.runner.taskfile import load_cases

# Off-language and junk samples kept by small models in the committed generated sets.
ENGLISH = "They're saying that there's an evil spirit living somewhere else."
SW_GIBBERISH = (  # py3langid ranks sw second; 1 word in 17 is Swahili
    "Mine itya akumunzi dhema tambala e amabale dere neke imba lebezo ogami gagalja ijirabida "
    "mechitaka shalomisa kefonju Ilo!"
)
CHATTER = (
    "I'm ready to help! What's your task? Is there something specific you'd like me to assist with?",
    "Sure, here are 10 examples of the class alarm query:",
    "Here are some examples in Swahili",
    "As an AI language model, I cannot write that.",
    'print("Today is:", func_local())',
    "```python",
    "Sentence B: [Insert another sentence here]",
    "https://www.example.com/page",
    "alarm_query: wake me up at seven",
)


def dev_texts(data_dir: Path, dataset: str, code: str, k: int = 20) -> list[str]:
    return [e.text for e in load_split(dataset, code, "dev", data_dir=data_dir).examples[:k]]


def language_gate(code: str, data_dir: Path) -> LanguageGate:
    opts = gate_spec("language").language
    return LanguageGate(
        resolve_language(code),
        train_vocabulary(code, data_dir=data_dir),
        max_rank=opts.max_rank,
        min_lexical_share=opts.min_lexical_share,
        reject_first=opts.reject_first,
    )


# -- the gates on real data ------------------------------------------------------------------


@pytest.mark.parametrize("code", ["sw", "cy", "de", "th", "te", "he", "sl"])
def test_language_gate_keeps_real_sentences_and_drops_english(code, shared_data_dir):
    gate = language_gate(code, shared_data_dir)
    real = dev_texts(shared_data_dir, "sib200", code) + dev_texts(
        shared_data_dir, "massive60", code
    )
    kept = sum(gate.check(t).keep for t in real)
    assert kept >= 0.9 * len(real)
    english = dev_texts(shared_data_dir, "sib200", "en")
    assert not any(gate.check(t).keep for t in english)


def test_language_gate_drops_gibberish_that_language_id_passes(shared_data_dir):
    gate = language_gate("sw", shared_data_dir)
    lid_only = LanguageGate(
        gate.language, gate.vocabulary, max_rank=gate.max_rank, min_lexical_share=0
    )
    assert lid_only.check(SW_GIBBERISH).keep  # py3langid alone lets it through
    verdict = gate.check(SW_GIBBERISH)
    assert not verdict.keep and "gold train vocabulary" in verdict.reason
    verdict = gate.check(ENGLISH)
    assert not verdict.keep and "language ID" in verdict.reason
    assert not gate.check("12:30 !!!").keep


def test_language_gate_drops_what_language_id_guesses_first_as_english(shared_data_dir):
    gate = language_gate("cy", shared_data_dir)
    lenient = LanguageGate(gate.language, gate.vocabulary, max_rank=gate.max_rank, reject_first=())
    text = "Theme: Rain will fall today as well"  # kept by a small model for Welsh
    assert lenient.check(text).keep  # Welsh is 4th, and 4 of 7 words occur in Welsh train
    assert gate.check(text) == Verdict(False, "language ID first guess is en")
    english = language_gate("en", shared_data_dir)
    assert english.reject_first == () and english.check(text).keep


def test_vocabulary_comes_from_train_only_and_thai_uses_character_ngrams(shared_data_dir):
    vocab = train_vocabulary("sw", data_dir=shared_data_dir)
    assert all("/train:" in source for source in vocab.sources)
    assert len(vocab.sources) == 2  # MASSIVE and SIB-200
    thai = train_vocabulary("th", data_dir=shared_data_dir)
    assert thai.char_ngrams and not vocab.char_ngrams
    assert all(len(u) <= 3 for u in list(thai.units)[:100])
    # marks (Telugu vowel signs) stay inside words
    assert lexical_units("నమస్కారం అండి") == ["నమస్కారం", "అండి"]


def test_chatter_gate_drops_meta_talk_and_keeps_real_sentences(shared_data_dir):
    gate = ChatterGate()
    for text in CHATTER:
        verdict = gate.check(text, "alarm_query")
        assert not verdict.keep, text
        assert verdict.reason
    real = ["let me know the time in india", "hier ist es zu dunkel"]
    for code in ("en", "de", "sw", "cy", "id", "ro"):
        real += dev_texts(shared_data_dir, "massive60", code, 50)
        real += dev_texts(shared_data_dir, "sib200", code, 30)
    assert [t for t in real if not gate.check(t, "alarm_query").keep] == []


def test_every_failing_gate_is_reported(shared_data_dir):
    gates = [language_gate("sw", shared_data_dir), ChatterGate()]
    failed = failed_gates(gates, CHATTER[0], "health")
    assert [name for name, _ in failed] == ["language", "chatter"]
    assert failed_gates(gates, dev_texts(shared_data_dir, "sib200", "sw", 1)[0], "health") == []


# -- the task-file axis ----------------------------------------------------------------------

TASK = """
datasets: [sib200]
languages: [sw]
settings: [gold, target_demos]
models: [tiny-random]
samples_per_label: 4
seeds: 1
generation: {demos_per_label: 2}
"""


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "task.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_gates_axis_expands_generated_settings_with_a_case_id_part(tmp_path, sib_fixture_dir):
    text = TASK + "gates: [none, language+chatter, chatter]\n"
    cases = load_cases(write(tmp_path, text), data_dir=sib_fixture_dir)
    ids = [c.case_id for c in cases]
    assert ids == [
        "sib200-sw-gold-n4-logreg_e5_small",
        "sib200-sw-target_demos-tiny_random-n4-logreg_e5_small",
        "sib200-sw-target_demos-tiny_random-n4-gate_language_chatter-logreg_e5_small",
        "sib200-sw-target_demos-tiny_random-n4-gate_chatter-logreg_e5_small",
    ]
    assert cases[1].gates is None
    assert cases[2].gates.names == ["language", "chatter"]
    assert cases[2].gates.language.min_lexical_share == 0.4
    assert len({c.spec_hash for c in cases}) == 4
    default = load_cases(write(tmp_path, TASK), data_dir=sib_fixture_dir)
    assert [c.spec_hash for c in default] == [c.spec_hash for c in cases[:2]]
    assert parse_gate_set("none") == () and gate_spec("none") is None


def test_unknown_gate_is_an_error_with_a_suggestion(tmp_path, sib_fixture_dir):
    with pytest.raises(TaskFileError, match=r"gates\[0\].*did you mean 'language'"):
        load_cases(write(tmp_path, TASK + "gates: [langauge]\n"), data_dir=sib_fixture_dir)
    with pytest.raises(TaskFileError, match="repeated"):
        load_cases(write(tmp_path, TASK + "gates: [chatter+chatter]\n"), data_dir=sib_fixture_dir)


def test_records_written_before_the_axis_keep_their_hash():
    results = Path(__file__).resolve().parents[2] / "leaderboard" / "results"
    records = sorted(results.glob("*target_demos*.json"))[:5]
    if not records:
        pytest.skip("no committed records")
    for path in records:
        record = json.loads(path.read_text())
        spec = spec_from_record(record)
        assert spec.gates is None
        assert (spec.case_id, spec.spec_hash) == (record["case_id"], record["spec_hash"])


# -- the scheduler hook ----------------------------------------------------------------------


class GatedScript:
    """Each reply: a preamble-like chatter line, English, and one real Swahili sentence."""

    def __init__(self, swahili: list[str]):
        self.swahili = swahili

    def __call__(self, prompt: str, seed: int) -> str:
        if "reason" in prompt.lower() or "why" in prompt.lower():
            return "It is fine."
        return "\n".join(
            [
                f"I'm ready to help you with task {seed}!",
                f"The weather is really nice today, number {seed}.",
                self.swahili[seed % len(self.swahili)],
            ]
        )


def test_gated_samples_are_dropped_before_revision_and_off_the_quota(tmp_path, shared_data_dir):
    from scripted_llm import ScriptedBackend, scripted

    swahili = dev_texts(shared_data_dir, "sib200", "sw", 99)
    gate = language_gate("sw", shared_data_dir)
    swahili = [t for t in swahili if gate.check(t).keep and ChatterGate().check(t).keep]
    backend = ScriptedBackend(GatedScript(swahili))
    backends = scripted(backend, tmp_path / "llm.sqlite")
    spec = CaseSpec(
        dataset="sib200",
        language="sw",
        setting="target_demos_revision",
        model="scripted",
        samples_per_label=3,
        gold_sampling="at_most",
        seeds=(0,),
        classifier=EmbedLogregSpec(encoder="tiny-random").model_dump(),
        generation=GenerationOptions(
            demos_per_label=2, per_request=3, max_attempts=8, seeds=[0], max_chars=400
        ).model_dump(),
        gates=gate_spec("language+chatter"),
    )
    ctx = RunContext(
        results_dir=tmp_path / "results",
        data_dir=shared_data_dir,
        figures=False,
        backends=backends,
    )
    record = run_case(spec, ctx)

    rows = [
        json.loads(line)
        for line in (tmp_path / "results" / spec.case_id / "generated.jsonl").open()
    ]
    gated = [r for r in rows if r["status"] == "gated"]
    kept = [r for r in rows if r["status"] == "kept"]
    # one sample in three passes, yet every label reached its quota: gated ones did not count
    gen = record["generation"]
    assert all(v["kept"] == 3 for v in gen["per_label"].values())
    assert all(r["text"] in swahili for r in kept)
    assert {r["text"].split()[0] for r in gated} == {"I'm", "The"}
    assert all(r["reason"].startswith("gate:") for r in gated)
    chatter = [r for r in gated if r["text"].startswith("I'm")]
    assert all("gate:language" in r["reason"] and "gate:chatter" in r["reason"] for r in chatter)
    # counted per label and per gate
    assert gen["gates"]["gated"] == len(gated) == sum(v["gated"] for v in gen["per_label"].values())
    assert gen["gates"]["dropped"] == {"language": len(gated), "chatter": len(chatter)}
    assert sum(v["chatter"] for v in gen["gates"]["dropped_per_label"].values()) == len(chatter)
    # no revision budget spent on gated samples
    assert sum(backend.choose_calls) == sum(
        r["status"] in ("kept", "rejected", "surplus") for r in rows
    )
    assert record["quality"]["lexical_validity"] > 0.8
