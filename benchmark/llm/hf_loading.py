"""Loading for the transformers backend: tokenizer and configs first (all a run served from the
response cache needs), the weights on first use; dtype, stop and padding tokens."""

from __future__ import annotations

from typing import Any

from benchmark.llm.backend import ModelUnavailableError
from benchmark.llm.models import ResolvedModel

END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>")


def pick_dtype(dtype: Any, device) -> Any:
    """The torch dtype to load with: by default float32 on CPU, bfloat16 (else float16) on GPU;
    a name ("bfloat16") is looked up in torch, "auto" passes through."""
    import torch

    if dtype is None:
        if device.type == "cpu":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if isinstance(dtype, str):
        if dtype == "auto":
            return "auto"
        return getattr(torch, dtype)
    return dtype


def _unavailable(resolved: ResolvedModel, err: Exception):
    return ModelUnavailableError(
        f"model {resolved.alias or resolved.path_or_id!r} ({resolved.path_or_id}) could not be "
        f"loaded: {err}. Offline, use a packaged model (smollm2-135m, qwen2.5-coder-0.5b) "
        "or a local directory."
    )


def load_light(resolved: ResolvedModel):
    """Tokenizer, model config and generation config: everything but the weights."""
    from transformers import AutoConfig, AutoTokenizer, GenerationConfig

    source = {"revision": resolved.revision} if resolved.revision else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(resolved.path_or_id, **source)
        config = AutoConfig.from_pretrained(resolved.path_or_id, **source)
    except OSError as err:
        raise _unavailable(resolved, err) from None
    try:
        generation_config = GenerationConfig.from_pretrained(resolved.path_or_id, **source)
    except OSError:  # what the model would derive from its config
        generation_config = GenerationConfig.from_model_config(config)
    return tokenizer, config, generation_config


def load_weights(resolved: ResolvedModel, device, dtype, model_kwargs: dict[str, Any] | None):
    """The causal LM in eval mode, on `device` unless `model_kwargs` hold a `device_map`."""
    from transformers import AutoModelForCausalLM

    source = {"revision": resolved.revision} if resolved.revision else {}
    options = {"dtype": dtype, **source, **(model_kwargs or {})}
    try:
        model = AutoModelForCausalLM.from_pretrained(resolved.path_or_id, **options)
    except OSError as err:
        raise _unavailable(resolved, err) from None
    if "device_map" not in options:
        model = model.to(device)
    return model.eval()


def stop_token_ids(tokenizer, generation_config) -> frozenset[int]:
    """EOS ids of the generation config and tokenizer, plus the chat template's end-of-turn."""
    ids: set[int] = set()
    for source in (generation_config, tokenizer):
        eos = getattr(source, "eos_token_id", None)
        ids.update(eos if isinstance(eos, list | tuple) else [eos] if eos is not None else [])
    added = tokenizer.get_added_vocab()
    ids.update(added[token] for token in END_OF_TURN_TOKENS if token in added)
    return frozenset(int(i) for i in ids)


def pad_id(tokenizer, stop_ids: frozenset[int]) -> int:
    """The tokenizer's pad token, else the smallest stop token (padding is masked anyway)."""
    if tokenizer.pad_token_id is not None:
        return int(tokenizer.pad_token_id)
    return min(stop_ids) if stop_ids else 0
