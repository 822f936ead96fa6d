"""llama.cpp engine configuration on the real generation case, side by side.

Runs one generated case (default: SIB-200 German, `target_demos`, Gemma-3-270M base, the
study-size task file's options) once per configuration of threads and slots, each in its own
pytest subprocess with an empty response cache of its own, one after another, and prints a
table of generated samples per second, completion tokens per second, requests and the share of
samples the quality gates of the record measured (lexical validity, language fidelity,
distinct-n), so a faster configuration that writes worse samples shows. Ratios against the
first configuration are the figure to read on a shared machine.

    python measure/engine_config.py --n 10 --configs 1x1 1x2 2x1 2x2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def task_file(folder: Path, *, threads: int, slots: int, n: int, args) -> Path:
    """A one-case task file: the study-size options at a small n and one generation seed."""
    spec = {
        "include": [str(ROOT / "tasks" / "_defaults" / "llamacpp_cpu.yaml")],
        "description": f"engine configuration {threads} threads x {slots} slots",
        "datasets": [args.dataset],
        "languages": [args.language],
        "models": [args.model],
        "settings": [args.setting],
        "samples_per_label": n,
        "seeds": 1,
        "generation": {
            "backend_options": {"n_threads": threads, "n_parallel": slots},
            "seeds": [args.generation_seed],
            "max_attempts": 250,
            "max_chars": 250,
        },
    }
    path = folder / f"engine_{threads}x{slots}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def run_config(threads: int, slots: int, n: int, args, scratch: Path) -> dict:
    folder = scratch / f"{threads}x{slots}"
    folder.mkdir(parents=True, exist_ok=True)
    path = task_file(folder, threads=threads, slots=slots, n=n, args=args)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "BENCH_RESPONSE_CACHE": str(folder / "responses.sqlite"),
    }
    out = folder / "out"
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(path),
            "-k",
            args.setting,
            "-q",
            "-p",
            "no:xdist",
            "--bench-out",
            str(out),
            "--bench-no-figures",
            "--bench-overwrite",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - started
    (record_file,) = (out / "results").glob("*.json")
    record = json.loads(record_file.read_text(encoding="utf-8"))
    gen, quality = record["generation"], record.get("quality") or {}
    return {
        "config": f"{threads} threads x {slots} slots",
        "samples/s": gen["samples_per_second"],
        "completion tok/s": gen["tokens_per_second"],
        "requests": gen["stats"]["requests"],
        "kept": gen["kept"],
        "lexical": quality.get("lexical_validity"),
        "language": quality.get("language_fidelity"),
        "distinct-2": quality.get("distinct_2"),
        "wall s": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--configs", nargs="+", default=["1x1", "1x2", "2x1", "2x2"], help="THREADSxSLOTS"
    )
    parser.add_argument("--n", type=int, default=10, help="samples per label")
    parser.add_argument("--dataset", default="sib200")
    parser.add_argument("--language", default="de")
    parser.add_argument("--setting", default="target_demos")
    parser.add_argument("--model", default="gemma3-270m")
    parser.add_argument("--generation-seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="engine-config-") as scratch:
        for config in args.configs:
            threads, slots = (int(x) for x in config.split("x"))
            rows.append(run_config(threads, slots, args.n, args, Path(scratch)))
            print(json.dumps(rows[-1]), flush=True)
    base = rows[0]["samples/s"] or 1
    print(
        "\n| config | samples/s | ratio | completion tok/s | requests | kept | lexical | language | distinct-2 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['config']} | {r['samples/s']} | {r['samples/s'] / base:.2f} | "
            f"{r['completion tok/s']} | {r['requests']} | {r['kept']} | {r['lexical']} | "
            f"{r['language']} | {r['distinct-2']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
