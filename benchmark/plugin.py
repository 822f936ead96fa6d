"""pytest plugin: task YAML files become benchmark cases.

`pytest tasks/sib200.yaml -k "sw and target_demos"` collects each task file,
expands its matrix into one item per case (ids like
`sib200-sw-gold-n100-logreg_e5_small`), runs each case, writes one record per
case and rebuilds the leaderboard at the end of the session.

From the repository root with no path (`pytest -k "sib200 and sw"`), `testpaths` names
`tests`, `tasks` and `baselines`: without `-k`/`-m` the task files are not even read (the
unit tests run, fast and offline); a `-k`/`-m` expression that picks some but not all
benchmark cases selects those cases only (see `pick_root_selection`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import sys
import warnings
from pathlib import Path

import _pytest
import pluggy
import pytest

from benchmark import progress
from benchmark.case.records import read_records, remove_stale_temp_files
from benchmark.case.spec import MAX_SEEDS, CaseSpec, TaskFileError
from benchmark.classifiers.finetune import EncoderUnavailableError
from benchmark.context import RunContext
from benchmark.data.languages import LANGUAGES
from benchmark.data.loaders import DATASETS, LeakageError
from benchmark.errors import BenchError, CaseFailure, RecordError
from benchmark.paths import CACHE_DIR_ENV, DataDirError, default_data_dir
from benchmark.runner.run import finished_record, run_case
from benchmark.runner.staging import remove_stale_staging, staged_case
from benchmark.runner.taskfile import clash_problem, load_cases
from benchmark.settings import SETTINGS

TASK_DIRS = ("tasks", "baselines")
CTX_KEY = pytest.StashKey[RunContext]()
COMMAND: str | None = None  # set by `lowres-bench run` to name itself in the leaderboard header
LANGUAGE_CODES = tuple(LANGUAGES)
# Errors a user can act on: one short block, no traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (
    BenchError,
    TaskFileError,
    CaseFailure,
    DataDirError,
    LeakageError,
)
THIRD_PARTY_LINES = 10  # of a failed case's third-party output, in its report
_INTERNAL_DIRS = tuple(Path(m.__file__).parent for m in (_pytest, pytest, pluggy))


def _project_frames(excinfo: pytest.ExceptionInfo):
    """The traceback without pytest's and pluggy's own frames (they say nothing about the bug)."""
    return excinfo.traceback.filter(
        lambda entry: not any(Path(entry.path).is_relative_to(d) for d in _INTERNAL_DIRS)
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("bench", "bench (lowres-gen-bench benchmark cases)")
    group.addoption(
        "--bench-data-dir",
        default=None,
        help="data root with massive/ and sib200/ (or 'hub'); default $BENCH_DATA_DIR or ../shared/data",
    )
    group.addoption(
        "--bench-out",
        default=None,
        help="folder for results/ and LEADERBOARD.md (default: <rootdir>/leaderboard)",
    )
    group.addoption(
        "--bench-overwrite", action="store_true", help="rerun cases that already have a record"
    )
    group.addoption(
        "--bench-seeds", type=int, default=None, help="override every case's seeds with range(N)"
    )
    group.addoption(
        "--bench-cache-dir",
        default=None,
        help=f"cache root (converted models, embeddings, LLM responses); default ${CACHE_DIR_ENV} or ~/.cache/lowres-bench",
    )
    group.addoption(
        "--bench-no-leaderboard",
        action="store_true",
        help="do not rebuild LEADERBOARD.md at session end",
    )
    group.addoption(
        "--bench-no-figures", action="store_true", help="skip the per-case confusion-matrix figures"
    )


def pytest_configure(config: pytest.Config) -> None:
    for name in (*DATASETS, *SETTINGS, *LANGUAGE_CODES, "bench", "generated"):
        config.addinivalue_line("markers", f"{name}: benchmark case selector")
    seeds = config.getoption("bench_seeds")
    if seeds is not None and not 1 <= seeds <= MAX_SEEDS:
        raise pytest.UsageError(
            f"--bench-seeds {seeds}: give a number of seeds from 1 to {MAX_SEEDS} (every case "
            "then runs seeds 0 to N-1)"
        )
    if config.getoption("bench_cache_dir"):
        os.environ[CACHE_DIR_ENV] = str(Path(config.getoption("bench_cache_dir")).resolve())
    data = config.getoption("bench_data_dir")
    out = Path(config.getoption("bench_out") or config.rootpath / "leaderboard")
    config.stash[CTX_KEY] = RunContext(
        results_dir=out.resolve() / "results",
        data_dir=data if data == "hub" else Path(data).resolve() if data else default_data_dir(),
        overwrite=config.getoption("bench_overwrite"),
        figures=not config.getoption("bench_no_figures"),
    )
    config.pluginmanager.register(BenchSession(config), "bench-session")


def _from_testpaths(config: pytest.Config) -> bool:
    """No path on the command line: pytest took `testpaths` (run from the repository root)."""
    return config.args_source == pytest.Config.ArgsSource.TESTPATHS


def _has_selection(config: pytest.Config) -> bool:
    return bool(config.getoption("keyword") or config.getoption("markexpr"))


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.suffix not in (".yaml", ".yml") or is_shared_yaml(file_path):
        return None
    if parent.session.isinitpath(file_path):
        return TaskFileCollector.from_parent(parent, path=file_path)
    if file_path.parent.name in TASK_DIRS:
        config = parent.config
        if _from_testpaths(config) and not _has_selection(config):
            return None  # plain `pytest` from the root: unit tests only, task files unread
        return TaskFileCollector.from_parent(parent, path=file_path)
    return None


def is_shared_yaml(path: Path) -> bool:
    """`_x.yaml` or `_defaults/x.yaml`: YAML that task files include, not a task file itself."""
    return path.name.startswith("_") or path.parent.name.startswith("_")


def pick_root_selection(
    items: list[pytest.Item], bench_total: int
) -> tuple[list[pytest.Item], list[pytest.Item]]:
    """(kept, deselected) for a `-k`/`-m` run from the root over tests and task folders.

    An expression that picks some but not all of the `bench_total` collected benchmark
    cases is about the benchmark: those cases are kept and the unit tests dropped. One that
    picks all of them (`-k "not slow"`) or none (`-k plugin`) is about the unit tests: the
    cases are dropped, so no unit-test selection ever starts a benchmark run.
    """
    cases = [item for item in items if isinstance(item, BenchCase)]
    tests = [item for item in items if not isinstance(item, BenchCase)]
    if 0 < len(cases) < bench_total:
        return cases, tests
    return tests, cases


class TaskFileCollector(pytest.File):
    """A task YAML file; its cases are the items."""

    def collect(self):
        ctx = self.config.stash[CTX_KEY]
        seeds = self.config.getoption("bench_seeds")
        for spec in load_cases(self.path, data_dir=ctx.data_dir):
            if seeds is not None:
                spec = dataclasses.replace(spec, seeds=tuple(range(seeds)))
            for mark in spec.marks:
                self.config.addinivalue_line("markers", f"{mark}: declared in {self.path.name}")
            yield BenchCase.from_parent(self, name=spec.case_id, spec=spec)

    def repr_failure(self, excinfo):
        if excinfo.errisinstance(USER_ERRORS):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def _traceback_filter(self, excinfo):
        return _project_frames(excinfo)


class BenchCase(pytest.Item):
    """One benchmark case."""

    def __init__(self, *, spec: CaseSpec, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.clash: str | None = None  # another collected case with this id and another spec
        for name in ("bench", spec.dataset, spec.language, spec.setting, *spec.marks):
            self.add_marker(name)
        if spec.model:
            self.add_marker("generated")
        self.user_properties.append(("bench_case", spec.case_id))

    def runtest(self) -> None:
        if self.clash:
            raise CaseFailure(self.clash)
        known = len(progress.notices())
        try:
            self._run()
        finally:  # notices (e.g. a damaged cache moved aside) travel with the report
            new = progress.notices()[known:]
            if new:
                self.user_properties.append(("bench_notices", json.dumps(new)))

    def _run(self) -> None:
        ctx = self.config.stash[CTX_KEY]
        done = finished_record(self.spec, ctx)
        if done is not None:
            f1 = done["scores"]["macro_f1_mean"]
            pytest.skip(f"finished earlier (macro-F1 {f1:.1f}); --bench-overwrite reruns it")
        with (
            progress.case(self.spec.case_id),
            self._quiet_libraries(),
            staged_case(ctx, self.spec.case_id) as staged,  # swapped in on success only
        ):
            record = run_case(self.spec, staged)
        summary = {
            k: record["scores"][k] for k in ("macro_f1_mean", "macro_f1_std", "accuracy_mean")
        }
        summary["seconds"] = record["timings"]["total_seconds"]
        gen = record.get("generation")
        if gen:
            summary["generation"] = (
                f"kept {gen['kept']}, LLM calls {gen['stats']['requests']} "
                f"({gen['cache_hits']} from cache), generation {gen['stats']['seconds']:.0f} s"
            )
        self.user_properties.append(("bench_result", json.dumps(summary)))

    @contextlib.contextmanager
    def _quiet_libraries(self):
        """Unless -v: third-party progress bars, prints and warnings (model conversion and
        loading, gguf, transformers) go to a buffer, shown only if the case fails."""
        if self.config.get_verbosity() > 0:
            yield
            return
        buffer = io.StringIO()
        try:
            with contextlib.redirect_stderr(buffer), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield
        finally:
            if buffer.getvalue():
                self.add_report_section(
                    "call", "third-party output (shown with -v)", last_lines(buffer.getvalue())
                )

    def repr_failure(self, excinfo, style=None):
        if excinfo.errisinstance((*USER_ERRORS, EncoderUnavailableError)):
            return f"{self.spec.case_id}: {excinfo.value}"
        if style is None and self.config.getoption("tbstyle", "auto") == "auto":
            style = "short"  # a bug: the project's frames, one line each
        return super().repr_failure(excinfo, style=style)

    def _traceback_filter(self, excinfo):
        return _project_frames(excinfo)

    def reportinfo(self):
        return self.path, None, f"bench case {self.spec.case_id}"


def mark_clashes(cases: list[BenchCase]) -> None:
    """Cases of different task files that share an id but not a spec fail before they run
    (each would overwrite the other's record), naming the other file and what differs."""
    first: dict[str, BenchCase] = {}
    for case in cases:
        other = first.setdefault(case.spec.case_id, case)
        problem = clash_problem(other.spec, case.spec)
        if problem:
            for item, peer in ((case, other), (other, case)):
                item.clash = (
                    f"the same case id is collected from {peer.path} with another spec: {problem}"
                )


class BenchSession:
    """Per-session state: which cases ran, the summary table, the leaderboard rebuild."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.seen: list[tuple[str, str, str | None]] = []
        self.leaderboard: Path | None = None
        self.leaderboard_error: str | None = None
        self.bad_records: list[str] = []
        self.notices: list[str] = []
        self.removed_temp: list[Path] = []
        self.bench_total = 0
        self.root_selection: str | None = None

    @pytest.hookimpl(wrapper=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]):
        """Around pytest's own -k/-m deselection: count the cases before, choose after."""
        self.bench_total = sum(isinstance(item, BenchCase) for item in items)
        mark_clashes([item for item in items if isinstance(item, BenchCase)])
        result = yield
        if not (_from_testpaths(config) and _has_selection(config) and self.bench_total):
            return result
        kept, dropped = pick_root_selection(items, self.bench_total)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept
        if kept and isinstance(kept[0], BenchCase):
            self.root_selection = (
                f"lowres-bench: -k/-m picked {len(kept)} of {self.bench_total} benchmark cases "
                f"in {'/ and '.join(TASK_DIRS)}/ (unit tests left out; name `tests` to select among them)"
            )
        return result

    def pytest_report_collectionfinish(self) -> str | None:
        return self.root_selection

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):
            return  # xdist worker: its terminal is not shown

        results_dir = self.config.stash[CTX_KEY].results_dir
        self.removed_temp = remove_stale_temp_files(results_dir)
        self.removed_temp += remove_stale_staging(results_dir)
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            capture = self.config.pluginmanager.get_plugin("capturemanager")

            def sink(line: str) -> None:
                streams = sys.stdout, sys.stderr  # a case's redirect (see _quiet_libraries)
                with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
                    reporter.write_line(line)
                    reporter.flush()
                sys.stdout, sys.stderr = streams  # resuming the capture would undo the redirect

            progress.set_sink(sink)

    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config):
        """Benchmark cases print their own line when they finish (no lone progress dots)."""
        properties = dict(getattr(report, "user_properties", ()))  # collect reports have none
        if "bench_case" not in properties or config.get_verbosity() > 0:
            return None
        if report.when == "call" or (report.when == "setup" and not report.passed):
            return report.outcome, "", ""
        return None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if report.when == "call" and "bench_notices" in props:
            self.notices.extend(json.loads(props["bench_notices"]))
        if "bench_case" in props and (report.when == "call" or report.outcome != "passed"):
            if report.when == "setup" and report.outcome == "passed":
                return
            detail = props.get("bench_result")
            if report.skipped and isinstance(report.longrepr, tuple):
                detail = json.dumps({"note": report.longrepr[2].removeprefix("Skipped: ")})
            elif report.failed:
                lines = [line for line in report.longreprtext.splitlines() if line.strip()]
                last = lines[-1].removeprefix(f"{props['bench_case']}: ") if lines else ""
                last = last[1:].strip() if last.startswith("E ") else last
                detail = json.dumps({"note": last[:160] + ("..." if len(last) > 160 else "")})
            self.seen.append((props["bench_case"], report.outcome, detail))
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None and not hasattr(self.config, "workerinput"):
                reporter.ensure_newline()
                reporter.write_line(case_line(props["bench_case"], report.outcome, detail))
                reporter.flush()

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        progress.set_sink(None)
        config = self.config
        ran = any(outcome != "skipped" for _, outcome, _ in self.seen)
        if hasattr(config, "workerinput") or not ran or config.getoption("bench_no_leaderboard"):
            return
        # lazy: pandas slows every session
        from benchmark.report.leaderboard import write_leaderboard

        results_dir = config.stash[CTX_KEY].results_dir
        problems: list[RecordError] = []
        read_records(results_dir, problems=problems)
        self.bad_records = [str(p) for p in problems]
        try:
            self.leaderboard = write_leaderboard(results_dir.parent, command=invoked_as(config))
        except Exception as err:  # a rebuild must never take the session's report down
            self.leaderboard_error = f"{type(err).__name__}: {err}"

    def pytest_terminal_summary(self, terminalreporter) -> None:
        tr = terminalreporter
        if self.removed_temp:
            tr.write_line(
                f"removed {len(self.removed_temp)} stale temp file(s) or staging folder(s) of "
                "killed runs"
            )
        for problem in self.bad_records:
            tr.write_line(f"skipped bad record {problem}", yellow=True)
        for text in self.notices:
            tr.write_line(f"NOTE: {text}", yellow=True)
        if self.leaderboard_error:
            tr.write_line(
                f"leaderboard NOT rebuilt: {self.leaderboard_error} "
                "(rerun `lowres-bench leaderboard` after fixing it)",
                red=True,
            )
        if not self.seen:
            return
        tr.section("benchmark cases")
        for case_id, outcome, result in self.seen:
            if outcome != "skipped":
                tr.write_line(case_line(case_id, outcome, result))
        skipped = sum(outcome == "skipped" for _, outcome, _ in self.seen)
        if skipped:
            tr.write_line(
                f"skipped  {skipped} case(s) finished earlier (listed above as they came)"
            )
        if self.leaderboard:
            tr.write_line(f"leaderboard rebuilt: {self.leaderboard}")
        elif not any(outcome != "skipped" for _, outcome, _ in self.seen):
            tr.write_line(
                "nothing ran (every case finished earlier): --bench-overwrite reruns them, "
                "--bench-out=<scratch folder> runs them into a fresh one"
            )


def invoked_as(config: pytest.Config) -> str:
    """The command named in the leaderboard header: `lowres-bench run ...` when the CLI
    started the session (it sets `COMMAND`), else `pytest` and its arguments."""
    if COMMAND:
        return COMMAND
    return " ".join(["pytest", *config.invocation_params.args])


def last_lines(text: str, keep: int = THIRD_PARTY_LINES) -> str:
    """The last `keep` non-empty lines of `text` (progress bars redraw many), saying how many
    more there were: a failure report stays short."""
    lines = [line for line in text.replace("\r", "\n").splitlines() if line.strip()]
    if len(lines) <= keep:
        return "\n".join(lines)
    return "\n".join([f"... {len(lines) - keep} earlier lines (all with -v -s)", *lines[-keep:]])


def case_line(case_id: str, outcome: str, result: str | None) -> str:
    """One line per finished case: outcome, id, scores, time and generation counts."""
    detail = ""
    r = json.loads(result) if result else {}
    if "note" in r:
        detail = r["note"]
    elif r:
        detail = (
            f"macro-F1 {r['macro_f1_mean']:.1f} ± {r['macro_f1_std']:.1f}  "
            f"acc {r['accuracy_mean']:.1f}  ({r['seconds']:.0f} s)"
        )
        if "generation" in r:
            detail += f"  [{r['generation']}]"
    return f"{outcome:8} {case_id}  {detail}".rstrip()
