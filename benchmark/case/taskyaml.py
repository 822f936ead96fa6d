"""A task file's YAML: one key per mapping, `include:` files merged in, each key's file kept.

Included files are merged in order, then the including file on top: mappings merge key by key,
any other value (a list too) is replaced. Include paths are relative to the including file.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from pathlib import Path
from typing import Any

import yaml

from benchmark.case.spec import TaskFileError

# Top-level key naming shared YAML files merged under this one.
INCLUDE_KEY = "include"
# Values a task file may expand to (aliases included): a study has a few hundred; more is an
# alias bomb ("billion laughs") that would take minutes and gigabytes to validate and print.
MAX_VALUES = 100_000


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML would keep the last)."""

    def construct_mapping(self, node, deep=False):
        seen: dict[str, int] = {}
        if isinstance(node, yaml.MappingNode):
            for (
                key_node,
                _,
            ) in node.value:  # the mapping's own keys (a `<<:` merge may be overridden)
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                    continue
                at = key_node.start_mark.index
                odd = _odd_character(key_node.value)
                if odd is not None:
                    raise _OddKey(key_node.value, odd, at)
                if key_node.value in seen:
                    raise _DuplicateKey(key_node.value, seen[key_node.value], at)
                seen[key_node.value] = at
        return super().construct_mapping(node, deep=deep)


class _DuplicateKey(Exception):
    def __init__(self, key: str, first: int, again: int) -> None:
        super().__init__(key)
        self.key, self.first, self.again = key, first, again  # character indices


class _OddKey(Exception):
    def __init__(self, key: str, position: int, at: int) -> None:
        super().__init__(key)
        self.key, self.position, self.at = key, position, at


def _odd_character(key: str) -> int | None:
    """Index of the first invisible or unusual character of a key (a zero-width space, a
    no-break space, a control or format character), or None."""
    for i, char in enumerate(key):
        if char != " " and unicodedata.category(char)[0] in "CZ":
            return i
    return None


def _line(text: str, index: int) -> int:
    """The line of a character index: counting "\n" only (YAML also breaks lines at U+2028,
    U+2029 and U+0085, which editors show inside a line)."""
    return text.count("\n", 0, index) + 1


def _expanded_size(value: Any, limit: int) -> int:
    """How many values `value` holds with every alias expanded (stops counting past `limit`)."""
    sizes: dict[int, int] = {}

    def size(item: Any) -> int:
        if id(item) in sizes:
            return sizes[id(item)]
        children = item.values() if isinstance(item, dict) else item
        total = 1
        if isinstance(item, (dict, list)):
            for child in children:
                total += size(child)
                if total > limit:
                    break
        sizes[id(item)] = total
        return total

    return size(value)


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse a YAML mapping; a syntax error becomes a `TaskFileError` with the line."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise TaskFileError(
            path, "<file>", f"not UTF-8 (byte {err.start}); save the task file as UTF-8"
        ) from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as dup:
        raise TaskFileError(
            path,
            f"line {_line(text, dup.again)}",
            f"key {dup.key!r} appears twice in one mapping (first on line "
            f"{_line(text, dup.first)}); YAML would silently keep the last one: keep one",
        ) from None
    except _OddKey as odd:
        char = odd.key[odd.position]
        name = unicodedata.name(char, "unnamed")
        raise TaskFileError(
            path,
            f"line {_line(text, odd.at)}",
            f"key {odd.key!r} holds an invisible or unusual character, U+{ord(char):04X} "
            f"({name}), at position {odd.position + 1}; retype the key",
        ) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {_line(text, mark.index)}" if mark else "<yaml>"
        raise TaskFileError(path, where, f"invalid YAML: {getattr(err, 'problem', err)}") from None
    if _expanded_size(raw, MAX_VALUES) > MAX_VALUES:
        raise TaskFileError(
            path,
            "<file>",
            f"expands to more than {MAX_VALUES:,} values (aliases that repeat aliases, an "
            "'alias bomb'?); a task file holds a few hundred",
        )
    if not isinstance(raw, dict):
        raise TaskFileError(
            path, "<top level>", f"expected a mapping of keys, got {type(raw).__name__}"
        )
    return raw


def read_task_yaml(path: Path) -> tuple[dict[str, Any], dict[tuple[str, ...], Path]]:
    """A task file with its `include:` files merged in, and the file each key (path) came from."""
    return _read_including(Path(path), ())


def _read_including(
    path: Path, chain: tuple[Path, ...]
) -> tuple[dict[str, Any], dict[tuple[str, ...], Path]]:
    raw = read_yaml(path)
    merged: dict[str, Any] = {}
    origins: dict[tuple[str, ...], Path] = {}
    refs = raw.pop(INCLUDE_KEY) if INCLUDE_KEY in raw else []
    for key, target in _include_targets(path, refs):
        if target.resolve() in (*chain, path.resolve()):
            loop = " -> ".join(p.name for p in (*chain, path.resolve(), target.resolve()))
            raise TaskFileError(path, key, f"include cycle {loop}: remove one of these includes")
        sub, sub_origins = _read_including(target, (*chain, path.resolve()))
        _merge_into(merged, sub, (), sub_origins, origins)
    _merge_into(merged, raw, (), _origins_of(raw, path), origins)
    return merged, origins


def _include_targets(path: Path, refs: Any) -> list[tuple[str, Path]]:
    many = isinstance(refs, list)
    items = refs if many else [refs]
    out = []
    for i, ref in enumerate(items):
        key = f"{INCLUDE_KEY}[{i}]" if many else INCLUDE_KEY
        if not isinstance(ref, str) or not ref:
            raise TaskFileError(path, key, f"expected a file path or a list of paths, got {ref!r}")
        target = path.parent / ref
        if not target.is_file():
            raise TaskFileError(
                path, key, f"no file {ref!r} (paths are relative to {path.name}: {target})"
            )
        out.append((key, target))
    return out


def _origins_of(
    raw: dict[str, Any], path: Path, prefix: tuple[str, ...] = ()
) -> dict[tuple[str, ...], Path]:
    out: dict[tuple[str, ...], Path] = {}
    for key, value in raw.items():
        out[(*prefix, str(key))] = path
        if isinstance(value, dict):
            out.update(_origins_of(value, path, (*prefix, str(key))))
    return out


def _merge_into(
    base: dict[str, Any],
    over: dict[str, Any],
    prefix: tuple[str, ...],
    over_origins: dict[tuple[str, ...], Path],
    origins: dict[tuple[str, ...], Path],
) -> None:
    """Deep-merge `over` into `base` (`over` wins), keeping `origins` in step."""
    for key, value in over.items():
        where = (*prefix, str(key))
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            origins[where] = over_origins[where]
            _merge_into(base[key], value, where, over_origins, origins)
            continue
        for stale in [k for k in origins if k[: len(where)] == where]:
            del origins[stale]
        origins.update({k: v for k, v in over_origins.items() if k[: len(where)] == where})
        base[key] = copy.deepcopy(value)


def _origin(key: str, origins: dict[tuple[str, ...], Path]) -> Path | None:
    """The file that set an error's key (`classifiers[0].encoder` -> the one with `classifiers`)."""
    parts = tuple(re.sub(r"\[\d+\]", "", key).split("."))
    for end in range(len(parts), 0, -1):
        if parts[:end] in origins:
            return origins[parts[:end]]
    return None


def blame_included(
    err: TaskFileError, path: Path, origins: dict[tuple[str, ...], Path]
) -> TaskFileError:
    """An error about a key set by an included file names that file."""
    origin = _origin(err.key, origins)
    if origin is None or origin.resolve() == Path(path).resolve():
        return err
    message = str(err).removeprefix(f"{err.path}: {err.key}: ")
    return TaskFileError(origin, err.key, f"{message} (included by {path})")
