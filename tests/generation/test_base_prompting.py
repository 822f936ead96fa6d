"""Base-model prompting in a whole case: few-shot continuation, and the base-writes /
instruct-revises hybrid (`revision_model`)."""

from __future__ import annotations

import json
import re

import pytest

from benchmark.case.spec import CaseSpec, GenerationOptions
from benchmark.classifiers.embed_logreg import EmbedLogregSpec
from benchmark.context import RunContext
from benchmark.llm.backend import COMPLETION_ROLE, ChatBackend, ChatResponse, ChoiceResponse
from benchmark.llm.cache import ResponseCache
from benchmark.llm.factory import BackendFactory
from benchmark.runner.run import run_case

LABEL = re.compile(r"(science/technology|entertainment|geography|health|politics|sports|travel)")


class Recorder(ChatBackend):
    """Writes one sample per completion prompt; rejects samples whose text says 'bad'."""

    def __init__(self) -> None:
        self.chats: list = []
        self.choices: list = []

    def generate(self, requests, *, on_result=None):
        out = []
        for i, request in enumerate(requests):
            self.chats.append(request)
            prompt = request.messages[-1][1]
            label = (LABEL.findall(prompt) or ["unknown"])[-1]
            quality = "bad" if request.sampling.seed % 3 == 0 else "good"
            response = ChatResponse(
                f" a {quality} {label} sentence {request.sampling.seed}", 9, 9, "stop"
            )
            if on_result:
                on_result(i, response)
            out.append(response)
        return out

    def choose(self, requests, *, on_result=None):
        out = []
        for i, request in enumerate(requests):
            self.choices.append(request)
            bad = "bad" in re.search(r"Text: (.*)", request.messages[-1][1]).group(1)
            yes, no = request.choices
            response = ChoiceResponse(no if bad else yes, {yes: -2.0 if bad else -0.1, no: -1.0})
            if on_result:
                on_result(i, response)
            out.append(response)
        return out

    def count_tokens(self, messages):
        return sum(len(content.split()) for _, content in messages)

    @property
    def max_model_len(self):
        return 4096

    @property
    def fingerprint(self):
        return f"recorder-{id(self)}"


@pytest.fixture
def backends(tmp_path):
    """One `Recorder` per model, made through the production backend factory."""
    made: dict[str, Recorder] = {}

    def load(name, model, **options):
        return made.setdefault(model, Recorder())

    return made, BackendFactory(load, cache=ResponseCache(tmp_path / "llm.sqlite"))


def _spec(setting: str = "target_demos_revision", **generation) -> CaseSpec:
    options = GenerationOptions(
        demos_per_label=2, per_request=1, max_attempts=6, seeds=[0], **generation
    )
    return CaseSpec(
        dataset="sib200",
        language="sw",
        setting=setting,
        model="gemma3-270m",  # declared a base model
        samples_per_label=2,
        gold_sampling="at_most",
        seeds=(0,),
        classifier=EmbedLogregSpec(encoder="tiny-random").model_dump(),
        generation=options.model_dump(),
    )


def _context(tmp_path, data_dir, factory) -> RunContext:
    return RunContext(
        results_dir=tmp_path / "out" / "results", data_dir=data_dir, figures=False, backends=factory
    )


def test_base_model_writes_and_instruct_model_revises(backends, tmp_path, sib_fixture_dir):
    spec = _spec(revision_model="instruct")
    made, factory = backends
    ctx = _context(tmp_path, sib_fixture_dir, factory)
    record = run_case(spec, ctx)
    writer, reviser = made["gemma3-270m"], made["instruct"]
    assert writer.chats and not writer.choices  # the base model only writes
    for request in writer.chats:
        [(role, text)] = request.messages
        assert role == COMPLETION_ROLE and "written in Swahili:\n1. " in text
        assert re.search(r"\n3\.$", text)  # 2 demos, then the number of the next item
        assert request.sampling.stop == ("\n\n", "\n4.")
    assert reviser.choices and all(r.choices == ("yes", "no") for r in reviser.choices)
    assert all(r.messages[-1][0] == "user" for r in reviser.choices)  # chat prompts
    # the study's semantics: revision prompts show the (summarised) description, also here
    assert all("(meaning: " in r.messages[-1][1] for r in reviser.choices)
    rows = [
        json.loads(line) for line in (ctx.results_dir / spec.case_id / "generated.jsonl").open()
    ]
    assert {r["status"] for r in rows} >= {"kept", "rejected"}
    assert all("good" in r["text"] for r in rows if r["status"] == "kept")
    assert record["generation"]["rejected"] == sum(r["status"] == "rejected" for r in rows)


def test_revision_description_strategy_option_leaves_it_out(backends, tmp_path, sib_fixture_dir):
    spec = _spec(revision_model="instruct", revision_description="strategy")
    made, factory = backends
    ctx = _context(tmp_path, sib_fixture_dir, factory)
    run_case(spec, ctx)
    reviser = made["instruct"]
    assert reviser.choices and not any("(meaning: " in r.messages[-1][1] for r in reviser.choices)
    assert not any("Describe" in r.messages[-1][1] for r in reviser.chats)  # no summaries


def test_base_model_demos_are_translated_by_the_chat_model(backends, tmp_path, sib_fixture_dir):
    spec = _spec("translated_demos", revision_model="instruct")
    made, factory = backends
    ctx = _context(tmp_path, sib_fixture_dir, factory)
    record = run_case(spec, ctx)
    writer, translator = made["gemma3-270m"], made["instruct"]
    assert all(r.messages[0][0] == COMPLETION_ROLE for r in writer.chats)  # it only continues
    asks = [r.messages[-1][1] for r in translator.chats]
    assert asks and all("Reply with the translation only" in text for text in asks)
    assert record["generation"]["demos_translated_by"] == "instruct"


def test_base_model_without_a_chat_model_cannot_translate(backends, tmp_path, sib_fixture_dir):
    spec = _spec("translated_demos")
    ctx = _context(tmp_path, sib_fixture_dir, backends[1])
    with pytest.raises(ValueError, match="translated_demos: .*base model.*revision_model"):
        run_case(spec, ctx)


def test_base_model_augmentation_is_written_by_the_chat_model(backends, tmp_path, sib_fixture_dir):
    spec = _spec("target_demos", revision_model="instruct")
    spec = CaseSpec(**{**spec.__dict__, "augmentation": {"method": "paraphrase"}})
    made, factory = backends
    ctx = _context(tmp_path, sib_fixture_dir, factory)
    record = run_case(spec, ctx)
    asks = [r.messages[-1][1] for r in made["instruct"].chats]
    assert asks and all(text.startswith("Rewrite this Swahili text") for text in asks)
    assert all(r.messages[0][0] == COMPLETION_ROLE for r in made["gemma3-270m"].chats)
    assert '"written_by": "instruct"' in json.dumps(record["data"])
