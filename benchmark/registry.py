"""One registry helper for every pluggable kind (settings, backends, classifiers, selectors,
augmenters, datasets).

An entry is either the object itself (registered with the `register` decorator) or a lazy
`"module:attribute"` string, imported on first use so that heavy modules (torch, vLLM) load
only when a case needs them. Unknown names raise `UnknownNameError` with close matches.

    CLASSIFIERS = Registry("classifier")

    @CLASSIFIERS.register("my-classifier")
    class MyClassifier: ...

    CLASSIFIERS.add("finetune", "benchmark.classifiers.finetune:FinetuneClassifier")
    CLASSIFIERS.get("finetune")   # imports the module, returns the class
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from benchmark.errors import BenchError

T = TypeVar("T")


class UnknownNameError(BenchError, KeyError):
    """A name no registry entry has: says the kind, close matches and every known name."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        self.kind, self.name, self.known = kind, name, known
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        super().__init__(f"unknown {kind} {name!r}{hint}; known: {', '.join(known)}")

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


def load_object(target: str) -> object:
    """The object a `"package.module:attribute"` string names (imports the module)."""
    module, sep, attribute = target.partition(":")
    if not sep or not module or not attribute:
        raise ValueError(f"expected 'package.module:attribute', got {target!r}")
    obj: object = importlib.import_module(module)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """Named entries of one kind, in registration order.

    Args:
        kind: what an entry is, for error messages ("classifier", "selector", ...).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = {}

    def add(self, name: str, entry: T | str, *, replace: bool = False) -> None:
        """Register `entry` (an object, or a lazy `"module:attribute"` string) under `name`.

        Raises:
            ValueError: `name` is taken by another entry and `replace` is false.
        """
        old = self._entries.get(name)
        if old is not None and old is not entry and not replace:
            raise ValueError(f"{self.kind} {name!r} is registered already ({old!r})")
        self._entries[name] = entry

    def register(self, name: str, *, replace: bool = False) -> Callable[[T], T]:
        """Decorator form of `add`: `@REGISTRY.register("name")`."""

        def decorate(obj: T) -> T:
            self.add(name, obj, replace=replace)
            return obj

        return decorate

    def get(self, name: str) -> T:
        """The entry named `name`, imported if it was registered lazily.

        Raises:
            UnknownNameError: no such name (with close matches).
        """
        try:
            entry = self._entries[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self.names()) from None
        if isinstance(entry, str):
            entry = load_object(entry)  # type: ignore[assignment]
            self._entries[name] = entry
        return entry  # type: ignore[return-value]

    def names(self) -> list[str]:
        """Every registered name, in registration order."""
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
