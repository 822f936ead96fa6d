"""One cached chat backend per (backend, model, options) per process."""

from __future__ import annotations

import functools
import json
from typing import Any


@functools.lru_cache(maxsize=4)
def _cached_backend(name: str, model: str, options_json: str):
    from benchmark.llm.backend import load_backend
    from benchmark.llm.cache import CachedBackend, ResponseCache

    return CachedBackend(load_backend(name, model, **json.loads(options_json)), ResponseCache())


def backend_for(generation: dict[str, Any], model: str):
    """The shared `CachedBackend` for a case's generation options and model.

    Args:
        generation: the case's `GenerationOptions` as a dict.
        model: model alias, directory or hub id.

    Returns:
        A `CachedBackend`; every call goes through the response cache.
    """
    options: dict[str, Any] = {
        "batch_size": generation["batch_size"],
        "max_model_len": generation["max_model_len"],
        **generation.get("backend_options", {}),
    }
    if generation.get("dtype"):
        options["dtype"] = generation["dtype"]
    return _cached_backend(generation["backend"], model, json.dumps(options, sort_keys=True))
