"""The services a run injects through `RunContext`: data source, backend factory, embedder."""

from __future__ import annotations

import dataclasses

import pytest

from benchmark.case.spec import GenerationOptions
from benchmark.context import RunContext
from benchmark.data.loaders import Example, Split, load_split
from benchmark.data.source import DataSource
from benchmark.errors import DataFileError
from benchmark.llm.backend import ChatBackend, ChatRequest, ChatResponse, SamplingParams
from benchmark.llm.cache import CachedBackend, ResponseCache
from benchmark.llm.factory import BackendFactory


def test_data_source_loads_each_split_once_with_the_loaders_fingerprint(sib_fixture_dir):
    data = DataSource(sib_fixture_dir)
    train = data.split("sib200", "sw", "train")
    assert data.split("sib200", "sw", "train") is train
    assert data.split("sib200", "swh_Latn", "train") is train  # any accepted code, one load
    assert (
        train.fingerprint
        == load_split("sib200", "sw", "train", data_dir=sib_fixture_dir).fingerprint
    )
    assert data.split("sib200", "sw", "test") is not train
    assert data.labels("sib200") == tuple(sorted({e.label for e in train.examples}))


def test_data_source_keeps_the_loaders_validation(tmp_path, sib_fixture_dir):
    (tmp_path / "sib200").mkdir()
    source = sib_fixture_dir / "sib200" / "swh_Latn_train.tsv"
    (tmp_path / "sib200" / "swh_Latn_train.tsv").write_bytes(source.read_bytes()[:-5])
    with pytest.raises(DataFileError, match="ends in the middle of a line"):
        DataSource(tmp_path).split("sib200", "sw", "train")


def test_data_source_serves_in_memory_splits_without_a_data_dir(tmp_path):
    split = Split("sib200", "en", "train", (Example("a text", "x", "u1", "train"),), "mem")
    data = DataSource(tmp_path / "missing", splits=[split], labels={"sib200": ["y", "x"]})
    assert data.split("sib200", "en", "train") is split
    assert data.labels("sib200") == ("y", "x")


class Echo(ChatBackend):
    """Replies with the prompt; counts the requests that reach it."""

    def __init__(self, model: str):
        self.model, self.calls = model, 0

    def generate(self, requests, *, on_result=None):
        self.calls += len(requests)
        return [ChatResponse(r.messages[-1][1], 1, 1, "stop") for r in requests]

    def choose(self, requests, *, on_result=None):
        raise NotImplementedError

    def count_tokens(self, messages):
        return 1

    @property
    def max_model_len(self):
        return 100

    @property
    def fingerprint(self):
        return f"echo-{self.model}"


def test_backend_factory_makes_one_cached_backend_per_model_and_options(tmp_path):
    made: list[tuple[str, str, dict]] = []

    def load(name, model, **options):
        made.append((name, model, options))
        return Echo(model)

    factory = BackendFactory(load, cache=ResponseCache(tmp_path / "llm.sqlite"), keep=2)
    gen = GenerationOptions(backend="transformers", batch_size=4)
    first = factory(gen, "a")
    assert isinstance(first, CachedBackend) and factory(gen, "a") is first
    assert made == [("transformers", "a", {"batch_size": 4, "max_model_len": gen.max_model_len})]
    other = gen.model_copy(update={"batch_size": 8})
    assert factory(other, "a") is not first  # other options: another one
    factory(gen, "b")  # keeps the two most recent: "a" with batch 4 is dropped
    assert factory(gen, "a") is not first and len(made) == 4


def test_every_call_of_a_factory_backend_goes_through_the_response_cache(tmp_path):
    inner = Echo("m")
    factory = BackendFactory(lambda *_a, **_k: inner, cache=ResponseCache(tmp_path / "c.sqlite"))
    backend = factory(GenerationOptions(), "m")
    request = ChatRequest((("user", "hello"),), SamplingParams(temperature=0.0, seed=1))
    first = backend.generate([request])[0]
    again = backend.generate([request])[0]
    assert (first.cached, again.cached, inner.calls) == (False, True, 1)


def test_run_context_builds_its_data_source_and_replace_keeps_the_services(tmp_path):
    ctx = RunContext(results_dir=tmp_path, data_dir=tmp_path / "data")
    assert ctx.data.data_dir == tmp_path / "data"
    moved = dataclasses.replace(ctx, results_dir=tmp_path / "elsewhere")
    assert (moved.data, moved.backends, moved.embedder) == (ctx.data, ctx.backends, ctx.embedder)
    assert RunContext(results_dir=tmp_path).backends is not ctx.backends  # one per run
