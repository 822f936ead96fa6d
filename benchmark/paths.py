"""Where data, caches and results live; every location can be overridden."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "BENCH_DATA_DIR"
CACHE_DIR_ENV = "BENCH_CACHE_DIR"


class DataDirError(FileNotFoundError):
    """The data directory is missing or incomplete."""


def default_data_dir() -> Path:
    """`$BENCH_DATA_DIR`, else the first `shared/data` found beside or above the working dir."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    here = Path.cwd().resolve()
    for parent in (here, *here.parents):
        for candidate in (parent / "shared" / "data", parent.parent / "shared" / "data"):
            if candidate.is_dir():
                return candidate
    return here.parent / "shared" / "data"


def cache_dir() -> Path:
    """Root of all caches (converted models, embeddings, LLM responses)."""
    env = os.environ.get(CACHE_DIR_ENV)
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "lowres-bench"
    path.mkdir(parents=True, exist_ok=True)
    return path
