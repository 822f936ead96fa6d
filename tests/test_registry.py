"""The registry helper: decorator and lazy entries, did-you-mean errors."""

from __future__ import annotations

import pytest

from benchmark.errors import BenchError
from benchmark.registry import Registry, UnknownNameError, load_object


def test_decorator_and_lazy_entries():
    things: Registry[object] = Registry("thing")

    @things.register("mine")
    class Mine:
        pass

    things.add("path-join", "os.path:join")
    assert things.get("mine") is Mine
    import os.path

    assert things.get("path-join") is os.path.join
    assert things.names() == ["mine", "path-join"]
    assert "mine" in things and "other" not in things


def test_unknown_name_says_close_matches_and_known_names():
    things: Registry[object] = Registry("selector")
    things.add("coreset", object())
    things.add("cartography", object())
    with pytest.raises(UnknownNameError) as err:
        things.get("corset")
    assert isinstance(err.value, BenchError) and isinstance(err.value, KeyError)
    assert str(err.value) == (
        "unknown selector 'corset' (did you mean 'coreset'?); known: coreset, cartography"
    )


def test_a_taken_name_needs_replace():
    things: Registry[object] = Registry("thing")
    things.add("a", 1)
    with pytest.raises(ValueError, match="registered already"):
        things.add("a", 2)
    things.add("a", 2, replace=True)
    assert things.get("a") == 2


def test_load_object_refuses_a_bad_target():
    with pytest.raises(ValueError, match="module:attribute"):
        load_object("os.path.join")
