"""`Block`: the base of a record's typed result blocks (`benchmark.case.results`).

A block is a frozen dataclass whose fields are the JSON keys it knows. Reading keeps what it
does not know in `extra` and remembers the order its keys came in (`key_order`), so an old
record reads and writes back key for key. A block built in code (`key_order` None) writes its
fields in declaration order, leaving out the optional ones that are None.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Self

_INTERNAL = ("extra", "key_order")


def optional(default: Any = None) -> Any:
    """A field whose key a built block leaves out while its value is None."""
    return field(default=default, metadata={"optional": True})


def nested(block: type[Block], *, many: bool = False, optional: bool = False) -> Any:
    """A field holding a block (or, `many`, a list of blocks) read from its JSON object."""
    return field(default=None, metadata={"block": block, "many": many, "optional": optional})


@dataclass(frozen=True)
class Block:
    """A typed JSON object of a result record.

    Attributes:
        extra: keys of no field, kept as read (written back in their place).
        key_order: the keys in the order they were read; None for a block built in code.
    """

    extra: dict[str, Any] = field(default_factory=dict, kw_only=True)
    key_order: tuple[str, ...] | None = field(default=None, kw_only=True, compare=False, repr=False)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The JSON keys the block has a field for, in declaration order."""
        return tuple(_specs(cls))

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Self:
        """The block of a JSON object; missing keys read as None."""
        specs = _specs(cls)
        known = {k: _read(specs[k], v) for k, v in payload.items() if k in specs}
        extra = {k: v for k, v in payload.items() if k not in specs}
        return cls(**known, extra=extra, key_order=tuple(payload))

    def has(self, name: str) -> bool:
        """Whether `to_dict` writes the key `name` (a field's or an extra key)."""
        if name in self.extra:
            return True
        spec = _specs(type(self)).get(name)
        if spec is None:
            return False
        if self.key_order is not None:  # read: its keys, and fields set since
            return name in self.key_order or getattr(self, name) is not None
        return getattr(self, name) is not None or not spec.metadata.get("optional")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: read keys in their order, then fields set since, then extra keys."""
        return json_object(self, self.names(), self.has)

    def replace(self, **changes: Any) -> Self:
        """A copy with `changes` (fields by name)."""
        return dataclasses.replace(self, **changes)

    def __bool__(self) -> bool:
        """False for an empty block (as an empty dict was)."""
        return bool(self.extra) or any(self.has(name) for name in self.names())


def json_object(obj: Any, names: tuple[str, ...], written: Callable[[str], bool]) -> dict[str, Any]:
    """`obj`'s JSON object (a block or a record: `key_order`, `extra`, fields by name): the keys
    read in their order, then fields set since, then extra keys; a field only where `written`."""
    out: dict[str, Any] = {}
    for name in dict.fromkeys([*(obj.key_order or ()), *names, *obj.extra]):
        if name in obj.extra:
            out[name] = obj.extra[name]
        elif name in names and written(name):
            out[name] = _dump(getattr(obj, name))
    return out


@functools.cache
def _specs(cls: type[Block]) -> dict[str, dataclasses.Field]:
    """A block class's fields by JSON key, in declaration order."""
    return {f.name: f for f in fields(cls) if f.name not in _INTERNAL}


def _read(spec: dataclasses.Field, value: Any) -> Any:
    block = spec.metadata.get("block")
    if block is None:
        return value
    if spec.metadata["many"]:
        if not isinstance(value, list):
            return value
        return [block.from_dict(v) if isinstance(v, dict) else v for v in value]
    return block.from_dict(value) if isinstance(value, dict) else value


def _dump(value: Any) -> Any:
    if isinstance(value, Block):
        return value.to_dict()
    if isinstance(value, list) and any(isinstance(v, Block) for v in value):
        return [v.to_dict() if isinstance(v, Block) else v for v in value]
    return value
