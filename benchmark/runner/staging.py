"""A case writes its record and artefacts into a staging folder; they replace the previous ones
only when the case succeeds.

While a case runs, its results folder is `<out>/.<case id>.<pid>.staging/` (beside
`<out>/results/`, so that what sits next to the results folder, such as the label descriptions
in `<out>/descriptions/`, is the real thing). The case's record there is swapped in for
`results/<case id>.json` and its folder for `results/<case id>/` on success. On failure the
previous record and artefacts stay as they were, byte for byte, and what the failed run wrote
goes to `results/<case id>.failed/` (replacing an older one), named in the error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from benchmark import progress
from benchmark.case.records import case_dir, record_path
from benchmark.context import RunContext
from benchmark.errors import BenchError, CaseFailure

SUFFIX = ".staging"
MIN_FREE_BYTES = 16 * 2**20  # a record and its artefacts need a few MB; less means a full disk
FAILED_SUFFIX = ".failed"


class OutputFolderError(BenchError, OSError):
    """The folder a case writes into cannot take its record (read-only, missing, full)."""


def staging_root(results_dir: Path, case_id: str) -> Path:
    """The results folder a case writes into while it runs (one per case and process)."""
    return results_dir.parent / f".{case_id}.{os.getpid()}{SUFFIX}"


def failed_dir(results_dir: Path, case_id: str) -> Path:
    """Where the artefacts of a case's failed run are kept."""
    return results_dir / f"{case_id}{FAILED_SUFFIX}"


@contextlib.contextmanager
def staged_case(ctx: RunContext, case_id: str) -> Iterator[RunContext]:
    """The run context `ctx` with its results folder swapped for the case's staging folder.

    Args:
        ctx: the run's `RunContext`.
        case_id: the case about to run.

    Yields:
        The context the case runs with.
    """
    results_dir = ctx.results_dir
    root = staging_root(results_dir, case_id)
    shutil.rmtree(root, ignore_errors=True)
    check_writable(results_dir)
    root.mkdir(parents=True)
    previous = record_path(results_dir, case_id)
    if previous.is_file():  # a rerun reads the record it replaces (e.g. cold throughput)
        shutil.copy2(previous, record_path(root, case_id))
    try:
        yield dataclasses.replace(ctx, results_dir=root)
    except BaseException as err:
        kept = _keep_failed(results_dir, root, case_id)
        if kept is not None:
            _name_in_error(err, case_dir(root, case_id), kept)
        raise
    _publish(results_dir, root, case_id)


def check_writable(results_dir: Path, *, min_free: int = MIN_FREE_BYTES) -> None:
    """Refuse to start a case whose record could not be written (a read-only or full folder).

    Raises:
        OutputFolderError: the folder (or the one holding it) cannot be created or written to,
            or has less than `min_free` bytes free.
    """
    for folder in (results_dir, results_dir.parent):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".write-probe.", suffix=".tmp", dir=folder)
            os.close(fd)
            os.unlink(probe)
            free = shutil.disk_usage(folder).free
        except OSError as err:
            raise OutputFolderError(
                f"cannot write to the output folder {folder} ({err.strerror or err}); the case "
                "did not run: point --bench-out at a writable folder"
            ) from None
        if free < min_free:
            raise OutputFolderError(
                f"the output folder {folder} has {free / 2**20:.1f} MiB free (less than "
                f"{min_free / 2**20:.0f} MiB); the case did not run: free some space or point "
                "--bench-out elsewhere"
            )


def _publish(results_dir: Path, root: Path, case_id: str) -> None:
    """Swap the staged folder, then the staged record, in for the published ones."""
    staged_record = record_path(root, case_id)
    if not staged_record.is_file():
        raise CaseFailure(f"{case_id}: the case finished without writing its record")
    results_dir.mkdir(parents=True, exist_ok=True)
    live, staged = case_dir(results_dir, case_id), case_dir(root, case_id)
    if live.exists():
        os.replace(live, root / f"{case_id}.previous")  # removed with the staging folder
    if staged.exists():
        os.replace(staged, live)
    os.replace(staged_record, record_path(results_dir, case_id))
    shutil.rmtree(root, ignore_errors=True)


def _keep_failed(results_dir: Path, root: Path, case_id: str) -> Path | None:
    """Move what the failed run wrote to `<case id>.failed/`; None when it wrote nothing."""
    staged = case_dir(root, case_id)
    kept = None
    if staged.is_dir() and any(staged.iterdir()):
        kept = failed_dir(results_dir, case_id)
        shutil.rmtree(kept, ignore_errors=True)
        results_dir.mkdir(parents=True, exist_ok=True)
        os.replace(staged, kept)
    shutil.rmtree(root, ignore_errors=True)
    return kept


def _name_in_error(err: BaseException, staged: Path, kept: Path) -> None:
    """Point the error at the kept data: paths into the staging folder now name `kept`."""
    note = f"partial data of this run: {kept}; the previous record and artefacts are unchanged"
    progress.stage(note)
    if isinstance(err, (BenchError, CaseFailure)) and len(err.args) == 1:
        message = str(err.args[0]).replace(str(staged), str(kept))
        err.args = (message if str(kept) in message else f"{message} ({note})",)
    elif isinstance(err, Exception):
        err.add_note(note)


def remove_stale_staging(results_dir: Path) -> list[Path]:
    """Remove the staging folders of runs that died (their process is gone).

    A folder the swap left half done (the previous artefacts moved aside, the new ones not yet
    in place) gives the previous artefacts back first.

    Returns:
        The folders removed.
    """
    removed = []
    for root in results_dir.parent.glob(f".*{SUFFIX}") if results_dir.parent.is_dir() else ():
        pid = root.name.removesuffix(SUFFIX).rsplit(".", 1)[-1]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        for previous in root.glob("*.previous"):
            live = case_dir(results_dir, previous.name.removesuffix(".previous"))
            if not live.exists():
                os.replace(previous, live)
        shutil.rmtree(root, ignore_errors=True)
        removed.append(root)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
