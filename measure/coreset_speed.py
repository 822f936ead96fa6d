"""Greedy k-center coreset: incremental (benchmark.selection) vs recompute-all-distances.

    python measure/coreset_speed.py [--n 10000] [--dim 384] [--k 100]

Prints both timings and the ratio; the two must pick the same indices.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmark.selection import select_kcenter, select_kcenter_naive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=100)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(args.n, args.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    timings = {}
    for name, fn in (("incremental", select_kcenter), ("naive", select_kcenter_naive)):
        start = time.perf_counter()
        picked = fn(vectors, args.k, seed=0)
        timings[name] = (time.perf_counter() - start, picked)
    same = timings["incremental"][1].tolist() == timings["naive"][1].tolist()
    fast, slow = timings["incremental"][0], timings["naive"][0]
    print(f"k-center, {args.n} x {args.dim}, k={args.k}")
    print(f"incremental: {fast:.3f} s")
    print(f"naive:       {slow:.3f} s")
    print(f"speed-up:    {slow / fast:.1f}x   same picks: {same}")


if __name__ == "__main__":
    main()
