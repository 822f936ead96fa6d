"""Where data, caches and results live; every location can be overridden."""

from __future__ import annotations

import os
from collections.abc import Callable
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


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, memoised per (path, size, mtime) within the process."""
    import hashlib

    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                digest.update(chunk)
        _SHA_CACHE[key] = digest.hexdigest()
    return _SHA_CACHE[key]


def build_cached_dir(final: Path, build: Callable[[Path], None]) -> Path:
    """Create `final` once: build into a temp sibling under a file lock, then rename.

    Safe with parallel workers (pytest-xdist): one builds, the others wait and reuse.

    Args:
        final: target directory; returned as is when it already exists.
        build: fills the (empty, existing) temp directory it is given.

    Returns:
        `final`.
    """
    import shutil
    import tempfile

    from filelock import FileLock

    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(final) + ".lock"):
        if final.is_dir():
            return final
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
        try:
            tmp.chmod(0o755)
            build(tmp)
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def default_threads() -> int:
    """CPU threads for torch: $BENCH_THREADS, else usable cores shared between xdist workers."""
    if os.environ.get("BENCH_THREADS"):
        return max(1, int(os.environ["BENCH_THREADS"]))
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    return max(1, cores // max(1, workers))
