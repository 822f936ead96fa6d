"""The LLM backend factory of a run: one cached chat backend per (backend, model, options)."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from benchmark.case.spec import GenerationOptions
from benchmark.llm.backend import ChatBackend, load_backend
from benchmark.llm.cache import CachedBackend, ResponseCache

BackendLoader = Callable[..., ChatBackend]  # (backend name, model, **options) -> backend


def backend_options(generation: GenerationOptions) -> dict[str, Any]:
    """The constructor options a case's `GenerationOptions` give its backend."""
    options: dict[str, Any] = {
        "batch_size": generation.batch_size,
        "max_model_len": generation.max_model_len,
        **generation.backend_options,
    }
    if generation.dtype:
        options["dtype"] = generation.dtype
    return options


class BackendFactory:
    """Makes (and keeps the last few) `CachedBackend`s: every LLM call goes through the response
    cache.

    `RunContext.backends` holds one. A test or a benchmark script passes its own `load` (e.g. a
    scripted backend) and `cache`, and the run takes the production path.

    Args:
        load: makes the inner backend from (backend name, model, **options); `load_backend`
            by default.
        cache: the response cache of every backend; default: a `ResponseCache()` each.
        keep: backends kept alive at once (the least recently used one is dropped).
    """

    def __init__(
        self,
        load: BackendLoader = load_backend,
        *,
        cache: ResponseCache | None = None,
        keep: int = 4,
    ) -> None:
        self.load, self.cache, self.keep = load, cache, keep
        self._made: OrderedDict[tuple[str, str, str], CachedBackend] = OrderedDict()

    def __call__(self, generation: GenerationOptions, model: str) -> CachedBackend:
        """The `CachedBackend` for a case's generation options and model.

        Args:
            generation: the case's `GenerationOptions`.
            model: model alias, directory or hub id.
        """
        options = backend_options(generation)
        key = (generation.backend, model, json.dumps(options, sort_keys=True))
        if key in self._made:
            self._made.move_to_end(key)
            return self._made[key]
        backend = CachedBackend(self.load(key[0], model, **options), self.cache)
        self._made[key] = backend
        while len(self._made) > self.keep:
            self._made.popitem(last=False)
        return backend
