"""Generation throughput: the study's reference loop vs our whole-case scheduler.

Same model, same prompts (same demos, same per-attempt seeds), same target of accepted samples
per label, revision on:

(a) reference loop (`benchmark.generation.reference`): per label, one prompt per call until
    enough samples are accepted, one revision call per candidate (what the study's code sent
    to vLLM);
(b) scheduler (`benchmark.generation.pipeline.CaseGenerator`): every prompt of a round in one
    batch, every revision check of the round in one batch, top-ups sized by the observed yield
    for the labels still short.

Both keep the same samples by construction (first n that pass, in attempt order); the table's
"kept samples" column is a digest of each run's kept (label, text) pairs, so a difference
(batch-dependent numerics) shows.

Each (model, backend, mode) runs in its own subprocess on an empty response cache of its own
(the production path: every call goes through the cache), so nothing is served from an earlier
run, and peak memory (resident, process tree: vLLM's engine is a child process) is that run's
own. Model / engine loading is not timed.

    python measure/throughput.py --backends transformers vllm --n 10 --labels 3
    python measure/throughput.py --backends llamacpp transformers \
        --models smollm2-135m qwen2.5-coder-0.5b --threads 1

Memory-bandwidth bound: generating one token at batch 1 reads every weight once, so a backend
cannot exceed (memory bandwidth) / (bytes of weights) tokens per second per stream. The script
measures this CPU's bandwidth with numpy (a 512 MiB copy, (read + write) bytes per second, one
thread, best of 5; a sum is also printed, which is compute-bound on a slow core) and reports, per row, the weight bytes read per token (the GGUF file for llamacpp, the fp32
safetensors for transformers) and the row's tokens/s as a fraction of that single-stream bound.
Its tokens/s include prompt processing and revision checks, so the fraction understates the
decoding rate; batched rows (several streams per weight read) can exceed 1.

The vLLM backend needs `vllm` (CPU build: see docs/backends-and-models.md, "Distributed and
server runs"); run the script from that environment to get both rows in one table.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")  # GiB, vLLM CPU build


def _bind_vllm_cpu_threads() -> None:
    """vLLM's CPU build runs its model on every core but one (kept for its scheduler process):
    half of a 2-core machine. Give it the cores the transformers rows get ($BENCH_THREADS, else
    all usable ones), unless VLLM_CPU_OMP_THREADS_BIND is set."""
    if "VLLM_CPU_OMP_THREADS_BIND" in os.environ:
        return
    cores = sorted(os.sched_getaffinity(0))
    if os.environ.get("BENCH_THREADS"):
        cores = cores[: max(1, int(os.environ["BENCH_THREADS"]))]
    os.environ["VLLM_CPU_OMP_THREADS_BIND"] = ",".join(map(str, cores))
    os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")


_bind_vllm_cpu_threads()


def memory_bandwidth(mib: int = 512, repeats: int = 5) -> dict[str, float]:
    """This CPU's memory bandwidth seen by one thread (numpy), in GB/s.

    Args:
        mib: array size (well above the caches).
        repeats: best of this many.

    Returns:
        `copy` ((read + write) bytes per second of `np.copyto`) and `read` (bytes per second of
        a float32 sum).
    """
    import numpy as np

    a = np.ones(mib * 2**20 // 4, dtype=np.float32)
    b = np.empty_like(a)
    copy = read = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(b, a)
        copy = min(copy, time.perf_counter() - start)
        start = time.perf_counter()
        a.sum()
        read = min(read, time.perf_counter() - start)
    return {"copy": round(2 * a.nbytes / copy / 1e9, 2), "read": round(a.nbytes / read / 1e9, 2)}


def weight_bytes(backend: str, model: str) -> int:
    """Bytes of weights one generated token reads (every tensor once; tied embeddings count
    once, as the output projection reads them whole).

    Args:
        backend: "llamacpp" (the GGUF's tensors) or another (the converted fp32 safetensors).
        model: the model reference.

    Returns:
        The byte count.
    """
    if backend == "llamacpp":
        from benchmark.llm.models import resolve_gguf

        return resolve_gguf(model).path.stat().st_size  # tensors + a few MB of metadata
    from benchmark.llm.models import resolve_model

    folder = Path(resolve_model(model).path_or_id)
    return sum(f.stat().st_size for f in folder.glob("*.safetensors"))


def _spec(args, backend: str):
    from benchmark.case.spec import CaseSpec, GenerationOptions
    from benchmark.classifiers.embed_logreg import EmbedLogregSpec

    # vLLM on CPU: float32 (bf16 is ~4x slower here), no CUDA-graph capture (the backend sets
    # the CPU token budget itself).
    engine = {"enforce_eager": True}
    options = (
        {"dtype": "float32", "engine_kwargs": engine, "progress": False}
        if backend == "vllm"
        else {"n_threads": args.threads, "n_parallel": args.parallel}
        if backend == "llamacpp"
        else {}
    )
    generation = GenerationOptions(
        backend=backend,
        demos_per_label=10,
        per_request=args.per_request,
        max_attempts=args.max_attempts,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        backend_options=options,
        # revision prompts without a label description, as in the earlier tables (the study's
        # default would first have each model summarise every label)
        revision_description="strategy",
    )
    return CaseSpec(
        dataset=args.dataset,
        language=args.language,
        setting=args.setting,
        model=args.model,
        samples_per_label=args.n,
        gold_sampling="at_most",
        seeds=(args.seed,),
        classifier=EmbedLogregSpec().model_dump(),
        generation=generation.model_dump(),
    )


def _generator(args, backend_name: str):
    """A CaseGenerator whose backend starts on an empty response cache of its own."""
    from benchmark.context import RunContext
    from benchmark.generation.pipeline import CaseGenerator
    from benchmark.llm.backend import load_backend
    from benchmark.llm.cache import ResponseCache
    from benchmark.llm.factory import BackendFactory

    spec = _spec(args, backend_name)
    options = {"max_model_len": spec.generation.max_model_len}
    if backend_name == "transformers":
        options.update(batch_size=args.batch_size, progress=False)
        if args.threads:
            options.update(num_threads=args.threads)
    else:
        options.update(spec.generation.backend_options)
    raw = load_backend(backend_name, args.model, **options)
    scratch = Path(tempfile.mkdtemp(prefix="responses-", dir=_made(args.scratch)))
    factory = BackendFactory(lambda *_a, **_k: raw, cache=ResponseCache(scratch / "llm.sqlite"))
    ctx = RunContext(results_dir=Path(args.scratch), data_dir=args.data_dir, backends=factory)
    gen = CaseGenerator(spec, ctx, seed=args.seed)
    gen.labels = gen.labels[: args.labels]
    return gen


def _made(folder: str) -> Path:
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


class TreeMemory:
    """Peak resident memory of this process and all its children (vLLM runs its engine in a
    child process), sampled every 0.2 s; without psutil, this process's own peak."""

    def __init__(self):
        import threading

        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        try:
            import psutil
        except ImportError:
            return
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += proc.memory_info().rss
            self.peak = max(self.peak, total)
            self._stop.wait(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return max(own, self.peak / 2**20)


def run_one(args) -> dict:
    """Child process: one backend x mode, timed; prints a JSON line."""
    from benchmark.generation.reference import run_reference_loop

    gen = _generator(args, args.backend)
    with TreeMemory() as memory:
        start = time.perf_counter()
        if args.mode == "reference":
            run_reference_loop(gen)
        else:
            while gen.run_round(gen.stats.rounds):
                pass
        seconds = time.perf_counter() - start
    accepted = sum(min(gen.kept(label), gen.target) for label in gen.labels)
    kept = sorted(f"{c.label}\t{c.text}" for c in gen.candidates if c.status == "kept")
    peak_mib = memory.peak_mib
    return {
        "model": args.model,
        "backend": args.backend,
        "mode": args.mode,
        "seconds": round(seconds, 2),
        "accepted": accepted,
        "target": gen.target * len(gen.labels),
        "llm_calls": gen.stats.requests + gen.stats.revision_checks,
        "completion_tokens": gen.stats.completion_tokens,
        "samples_per_s": round(accepted / seconds, 3),
        "tokens_per_s": round(gen.stats.completion_tokens / seconds, 2),
        "peak_rss_mib": round(peak_mib),
        "kept_sha256": hashlib.sha256("\n".join(kept).encode()).hexdigest()[:12],
        "weight_bytes": weight_bytes(args.backend, args.model),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", default=["transformers"])
    parser.add_argument("--models", nargs="+", default=["smollm2-135m"])
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads (llamacpp default 1)"
    )
    parser.add_argument("--parallel", type=int, default=4, help="llamacpp slots")
    parser.add_argument("--dataset", default="sib200")
    parser.add_argument("--language", default="de")
    parser.add_argument("--setting", default="target_demos_revision")
    parser.add_argument("--n", type=int, default=10, help="accepted samples per label")
    parser.add_argument("--labels", type=int, default=3, help="first k labels of the dataset")
    parser.add_argument("--per-request", type=int, default=10)
    parser.add_argument("--max-attempts", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--scratch", default="/tmp/lowres-throughput")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.backend:  # child
        if args.backend == "llamacpp" and args.threads is None:
            args.threads = 1
        print("RESULT " + json.dumps(run_one(args)), flush=True)
        return
    bandwidth = memory_bandwidth()
    print(f"memory bandwidth, one thread: {bandwidth} GB/s", file=sys.stderr, flush=True)
    rows = []
    base = [a for a in (argv if argv is not None else sys.argv[1:])]
    for model in args.models:
        for backend in args.backends:
            for mode in (
                "scheduler",
                "reference",
            ):  # on a machine getting quieter, this favours (a)
                cmd = [sys.executable, __file__, *base, "--model", model]
                cmd += ["--backend", backend, "--mode", mode]
                print(f"running {model} / {backend} / {mode} ...", file=sys.stderr, flush=True)
                out = subprocess.run(cmd, capture_output=True, text=True, check=False)
                line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
                if line is None:
                    sys.stderr.write(out.stdout[-3000:] + out.stderr[-3000:])
                    raise SystemExit(f"{model} / {backend} / {mode} failed (exit {out.returncode})")
                row = json.loads(line[len("RESULT ") :])
                bound = bandwidth["copy"] * 1e9 / row["weight_bytes"]
                row["bandwidth_gbs"] = bandwidth["copy"]
                row["bound_tokens_per_s"] = round(bound, 1)
                row["fraction_of_bound"] = round(row["tokens_per_s"] / bound, 3)
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    print(
        f"memory bandwidth, one thread (numpy): read {bandwidth['read']} GB/s, "
        f"copy {bandwidth['copy']} GB/s"
    )
    print(table(rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"bandwidth_gbs": bandwidth, "rows": rows}, fh, indent=1)


def table(rows: list[dict]) -> str:
    """Markdown table with the scheduler / reference ratio per backend."""
    from tabulate import tabulate

    lines = []
    rows = sorted(rows, key=lambda r: (r.get("model", ""), r["backend"], r["mode"] != "reference"))
    for r in rows:
        ref = next(
            x
            for x in rows
            if x.get("model") == r.get("model")
            and x["backend"] == r["backend"]
            and x["mode"] == "reference"
        )
        ratio = r["samples_per_s"] / ref["samples_per_s"] if ref["samples_per_s"] else None
        lines.append(
            [
                r.get("model", ""),
                r["backend"],
                r["mode"],
                f"{r['accepted']}/{r['target']}",
                r["llm_calls"],
                r["seconds"],
                r["samples_per_s"],
                r["tokens_per_s"],
                r["peak_rss_mib"],
                r.get("kept_sha256", ""),
                "" if r["mode"] == "reference" or ratio is None else f"{ratio:.1f}x",
                r.get("weight_bytes", 0) // 2**20 or "",
                r.get("fraction_of_bound", ""),
            ]
        )
    headers = [
        "model",
        "backend",
        "mode",
        "accepted",
        "LLM requests",
        "seconds",
        "samples/s",
        "tokens/s",
        "peak RSS MiB",
        "kept samples (sha256)",
        "speed-up",
        "weights MiB/token",
        "tokens/s / bound",
    ]
    return tabulate(lines, headers=headers, tablefmt="github", disable_numparse=True)


if __name__ == "__main__":
    main()
