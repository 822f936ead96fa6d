"""lowres-bench: run LLM-generated-training-data benchmark cases and read their results."""

from __future__ import annotations

import argparse
import sys
import textwrap
from importlib import resources
from pathlib import Path

from benchmark import plugin
from benchmark.case.spec import GenerationOptions
from benchmark.data.examples import DATASETS
from benchmark.data.source import DataSource
from benchmark.errors import BenchError
from benchmark.generation.describe import descriptions_path, summarised_descriptions
from benchmark.llm.cache import ResponseCache
from benchmark.llm.cache_transfer import export_rows, import_rows, parse_since
from benchmark.llm.factory import BackendFactory
from benchmark.llm.models import missing_packages_message
from benchmark.paths import default_data_dir
from benchmark.report.leaderboard import write_leaderboard
from benchmark.report.pairs import compare_text
from benchmark.runner.arms_backfill import backfill_arms
from benchmark.runner.quality_backfill import recompute_quality

SMOKE_TASK = "smoke.yaml"


def smoke_task_path() -> Path:
    """The embedded default task (a small benchmark that finishes in minutes)."""
    return Path(str(resources.files("benchmark") / "resources" / SMOKE_TASK))


def smoke_models_missing() -> str | None:
    """Why the smoke task cannot generate yet (a model package is missing), or None."""
    import yaml

    task = yaml.safe_load(smoke_task_path().read_text(encoding="utf-8"))
    return missing_packages_message(task.get("models") or [])


def _run(args: argparse.Namespace, extra: list[str]) -> int:
    import pytest

    if not args.tasks and (missing := smoke_models_missing()):
        print(f"lowres-bench run: the smoke benchmark needs its LLM first: {missing}")
        return 2
    tasks = args.tasks or [str(smoke_task_path())]
    out = args.out or ("runs/smoke" if not args.tasks else "leaderboard")
    argv = [
        *tasks,
        f"--bench-out={out}",
        "-p",
        "no:cacheprovider",
        "-q",
        "-rfE",  # failures and errors; finished (skipped) cases have their own line
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        *extra,
    ]
    if any(a in ("-v", "--verbose") or a.startswith("-vv") for a in extra):
        argv.append("-s")  # -v: let third-party progress bars and warnings through, uncaptured
    print(f"running {' '.join(tasks)} -> {out}/LEADERBOARD.md", flush=True)

    named = [*(args.tasks or []), *([f"--out={args.out}"] if args.out else []), *extra]
    plugin.COMMAND = " ".join(["lowres-bench run", *named])
    try:
        return int(pytest.main(argv))
    finally:
        plugin.COMMAND = None


def _leaderboard(args: argparse.Namespace, extra: list[str]) -> int:
    if extra:
        raise SystemExit(f"unexpected arguments: {' '.join(extra)}")
    out = Path(args.out)
    if not (out / "results").is_dir():
        raise SystemExit(f"no results folder at {out / 'results'}")
    print(write_leaderboard(out))
    return 0


def _describe(args: argparse.Namespace, extra: list[str]) -> int:
    if extra:
        raise SystemExit(f"unexpected arguments: {' '.join(extra)}")
    options = GenerationOptions(backend=args.backend).model_dump()
    out = Path(args.out)
    descriptions = summarised_descriptions(
        args.dataset,
        model=args.model,
        k=args.k,
        out_dir=out,
        backend_factory=lambda: BackendFactory()(options, args.model),
        data=DataSource(args.data_dir or default_data_dir()),
        force=True,
    )
    for label, text in descriptions.items():
        print(f"{label}: {text}")
    print(descriptions_path(out, args.dataset, args.model, args.k))
    return 0


def _quality(args: argparse.Namespace, extra: list[str]) -> int:
    if extra:
        raise SystemExit(f"unexpected arguments: {' '.join(extra)}")
    out = Path(args.out)
    if not (out / "results").is_dir():  # a typo must not leave a new, empty folder behind
        raise SystemExit(f"lowres-bench quality: no results folder at {out / 'results'}")
    updated = recompute_quality(out / "results", data_dir=args.data_dir, only_missing=not args.all)
    print(f"quality recomputed for {len(updated)} case(s)")
    print(write_leaderboard(out, command="lowres-bench quality"))
    return 0


def _arms(args: argparse.Namespace, extra: list[str]) -> int:
    if extra:
        raise SystemExit(f"unexpected arguments: {' '.join(extra)}")
    out = Path(args.out)
    if not (out / "results").is_dir():
        raise SystemExit(f"no results folder at {out / 'results'}")
    wanted = args.cases

    def select(case_id: str) -> bool:
        return not wanted or any(part in case_id for part in wanted)

    updated, failed = backfill_arms(
        out / "results",
        data_dir=args.data_dir,
        overwrite=args.overwrite,
        allow_llm=args.llm,
        select=select,
    )
    print(f"arms added to {len(updated)} record(s)")
    for line in failed:
        print(f"not added: {line}")
    print(write_leaderboard(out, command="lowres-bench arms"))
    return 1 if failed else 0


def _compare(args: argparse.Namespace, extra: list[str]) -> int:
    if extra:
        raise SystemExit(f"unexpected arguments: {' '.join(extra)}")
    results = Path(args.out) / "results"
    if not results.is_dir():
        raise SystemExit(f"no results folder at {results}")
    try:
        print(compare_text(results, args.a, args.b))
    except BenchError as err:
        raise SystemExit(f"lowres-bench compare: {err}") from None
    return 0


EXAMPLES = """\
examples:
  lowres-bench run                                  # the smoke benchmark -> runs/smoke/LEADERBOARD.md
  lowres-bench run baselines/gold.yaml -k sib200-de-gold-n10- --out /tmp/scratch  # one gold case
  lowres-bench leaderboard                          # rebuild leaderboard/LEADERBOARD.md
  lowres-bench compare sib200-de-translated_demos-gemma3_270m-n10-logreg \\
                       sib200-de-target_demos-gemma3_270m-n10-logreg
  lowres-bench COMMAND --help                       # one command's options
"""


def _parser(sub, name: str, what: str, example: str, **kwargs) -> argparse.ArgumentParser:
    """A subcommand whose help is one line saying what it does, with an example below."""
    return sub.add_parser(
        name,
        help=what,
        description=what[0].upper() + what[1:] + ".",
        epilog="example:\n  " + example,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        **kwargs,
    )


def _add_run(sub) -> None:
    run = _parser(
        sub,
        "run",
        "run task files as pytest cases (default: the embedded smoke benchmark)",
        "lowres-bench run baselines/gold.yaml -k sib200-de-gold-n10- --out /tmp/scratch",
    )
    run.epilog = (
        textwrap.fill(
            "Every option not listed here is passed to pytest unchanged: -k/-m select cases, -x "
            "stops at the first failure, -n N runs N xdist workers, -v shows third-party output; "
            "and the bench options (pytest --help, group 'bench'): --bench-overwrite reruns "
            "finished cases, --bench-seeds N, --bench-data-dir, --bench-cache-dir, "
            "--bench-no-figures, --bench-no-leaderboard.",
            width=88,
            break_on_hyphens=False,
        )
        + "\n\n"
        + run.epilog
    )
    run.add_argument(
        "tasks", nargs="*", help="task YAML files or folders (default: embedded smoke task)"
    )
    run.add_argument(
        "--out",
        default=None,
        help="results folder (default runs/smoke for the smoke task, else leaderboard)",
    )


def _add_leaderboard(sub) -> None:
    board = _parser(
        sub,
        "leaderboard",
        "rebuild LEADERBOARD.md and its linked pages from the records, running nothing",
        "lowres-bench leaderboard --out runs/smoke",
    )
    board.add_argument(
        "--out", default="leaderboard", help="folder holding results/ (default: leaderboard)"
    )


def _add_describe(sub) -> None:
    describe = _parser(
        sub,
        "describe",
        "write (again) the LLM-summarised label descriptions of a dataset with one model",
        "lowres-bench describe --dataset sib200 --model smollm2-135m",
    )
    describe.add_argument("--dataset", required=True, choices=DATASETS.names())
    describe.add_argument("--model", required=True, help="model alias, directory or hub id")
    describe.add_argument("--k", type=int, default=10, help="gold examples per label (default 10)")
    describe.add_argument("--backend", default="transformers")
    describe.add_argument("--data-dir", default=None)
    describe.add_argument("--out", default="leaderboard", help="folder holding descriptions/")


def _add_quality(sub) -> None:
    quality = _parser(
        sub,
        "quality",
        "recompute the quality metrics of finished generated cases from their stored samples",
        "lowres-bench quality --out runs/smoke",
    )
    quality.add_argument("--out", default="leaderboard", help="folder holding results/")
    quality.add_argument("--data-dir", default=None)
    quality.add_argument("--all", action="store_true", help="also cases with every metric")


def _add_arms(sub) -> None:
    arms = _parser(
        sub,
        "arms",
        "add the arms (demos alone, demos + generated, gold) to finished generated records by "
        "rescoring their stored sets",
        "lowres-bench arms sib200-de-target_demos-gemma3_270m-n10",
    )
    arms.add_argument("cases", nargs="*", help="parts of case ids (default: every record)")
    arms.add_argument("--out", default="leaderboard", help="folder holding results/")
    arms.add_argument("--data-dir", default=None)
    arms.add_argument("--overwrite", action="store_true", help="also records that have arms")
    arms.add_argument(
        "--llm", action="store_true", help="also records whose augmented demos an LLM wrote"
    )


def _add_compare(sub) -> None:
    compare = _parser(
        sub,
        "compare",
        "test whether case A beats case B (or its matched gold control) by a paired bootstrap",
        "lowres-bench compare sib200-de-translated_demos-gemma3_270m-n10-logreg "
        "sib200-de-target_demos-gemma3_270m-n10-logreg",
    )
    compare.add_argument("a", help="case id of A, or a part of it that names one record")
    compare.add_argument(
        "b", nargs="?", default=None, help="case B (default: A's matched gold control)"
    )
    compare.add_argument("--out", default="leaderboard", help="folder holding results/")


def _add_cache(sub) -> None:
    cache = _parser(
        sub,
        "cache",
        "export LLM responses from the response cache, or import an export (to resume a long "
        "case on another machine)",
        "lowres-bench cache export resume/case.jsonl.gz --since 2026-12-08T01:40",
    )
    cache.add_argument("action", choices=["export", "import"])
    cache.add_argument("file", help="gzipped JSON lines (written by export, read by import)")
    cache.add_argument(
        "--since", default=None, help="export only rows created at or after (unix or ISO time)"
    )
    cache.add_argument("--model", default=None, help="export only models containing this text")
    cache.add_argument(
        "--cache", default=None, help="cache file (default $BENCH_RESPONSE_CACHE or the cache dir)"
    )


def _cache(args: argparse.Namespace, extra: list[str]) -> int:
    if extra:
        raise SystemExit(f"unexpected arguments: {' '.join(extra)}")
    cache = ResponseCache(args.cache)
    try:
        if args.action == "export":
            since = parse_since(args.since)
            written = export_rows(cache, Path(args.file), since=since, model=args.model)
            print(f"exported {written} response(s) from {cache.path} to {args.file}")
        else:
            read, added = import_rows(cache, Path(args.file))
            print(f"imported {added} new response(s) of {read} from {args.file} into {cache.path}")
    except BenchError as err:
        raise SystemExit(f"lowres-bench cache: {err}") from None
    finally:
        cache.close()
    return 0


# name -> (adds its parser, runs it); in the order `lowres-bench --help` lists them.
COMMANDS = {
    "run": (_add_run, _run),
    "leaderboard": (_add_leaderboard, _leaderboard),
    "describe": (_add_describe, _describe),
    "quality": (_add_quality, _quality),
    "arms": (_add_arms, _arms),
    "compare": (_add_compare, _compare),
    "cache": (_add_cache, _cache),
}


def build_parser() -> argparse.ArgumentParser:
    """The `lowres-bench` parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="lowres-bench",
        description=__doc__.strip() + " Without a command: `lowres-bench run`.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add, _ in COMMANDS.values():
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        args = parser.parse_args(["run"])
    return COMMANDS[args.command][1](args, extra)


if __name__ == "__main__":
    sys.exit(main())
