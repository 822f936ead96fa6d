"""Scripted LLM and case helpers shared by the generation and arms tests."""

from __future__ import annotations

import re

from benchmark.case.spec import CaseSpec, GenerationOptions
from benchmark.classifiers.embed_logreg import EmbedLogregSpec
from benchmark.context import RunContext
from benchmark.llm.backend import ChatBackend, ChatResponse, ChoiceResponse
from benchmark.llm.cache import ResponseCache
from benchmark.llm.factory import BackendFactory


class ScriptedBackend(ChatBackend):
    """Answers generation prompts with `reply(prompt, seed)`; rejects samples containing 'bad'."""

    def __init__(self, reply):
        self.reply = reply
        self.generate_calls: list[int] = []
        self.choose_calls: list[int] = []

    def generate(self, requests, *, on_result=None):
        self.generate_calls.append(len(requests))
        out = []
        for i, request in enumerate(requests):
            text = self.reply(request.messages[-1][1], request.sampling.seed)
            response = ChatResponse(text, 50, 20, "stop")
            if on_result:
                on_result(i, response)
            out.append(response)
        return out

    def choose(self, requests, *, on_result=None):
        self.choose_calls.append(len(requests))
        out = []
        for i, request in enumerate(requests):
            prompt = request.messages[-1][1]
            # judge the sample only (the revision prompt also shows a label description)
            bad = "bad" in re.search(r"Text: (.*)", prompt).group(1)
            response = ChoiceResponse(
                "no" if bad else "yes", {"yes": -2.0 if bad else -0.1, "no": -0.1 if bad else -2.0}
            )
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
        return "scripted"


def label_of(prompt: str) -> str:
    match = re.search(
        r"(science/technology|entertainment|geography|health|politics|sports|travel)", prompt
    )
    return match.group(1) if match else "unknown"


def make_spec(setting="target_demos", n=3, **generation) -> CaseSpec:
    options = GenerationOptions(
        **{"demos_per_label": 2, "per_request": 3, "max_attempts": 3, "seeds": [0], **generation}
    ).model_dump()
    return CaseSpec(
        dataset="sib200",
        language="sw",
        setting=setting,
        model="scripted",
        samples_per_label=n,
        gold_sampling="at_most",
        seeds=(0,),
        classifier=EmbedLogregSpec(encoder="tiny-random").model_dump(),
        generation=options,
    )


def scripted(backend, cache_path) -> BackendFactory:
    """A backend factory that serves `backend` (through a response cache) for every model."""
    return BackendFactory(lambda *_a, **_k: backend, cache=ResponseCache(cache_path))


def ctx_for(tmp_path, data_dir, backends: BackendFactory | None = None):
    return RunContext(
        results_dir=tmp_path / "out" / "results",
        data_dir=data_dir,
        figures=False,
        **({"backends": backends} if backends else {}),
    )
