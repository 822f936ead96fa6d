"""One FreeAL benchmark case: every seed's rounds -> one result record."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from benchmark.records import RECORD_VERSION, environment_info, record_path, write_json_atomic
from benchmark.scoring import aggregate
from benchmark.spec import CaseSpec


def run_freeal_case(spec: CaseSpec, ctx) -> dict[str, Any]:
    """Run FreeAL for every seed of the case and write its record.

    The record's `scores` are the small model's test scores after the last round (so
    FreeAL rows aggregate like any other case); `freeal.per_seed` holds every round.
    """
    from benchmark.freeal.rounds import run_freeal

    started = time.perf_counter()
    per_seed = [run_freeal(spec, ctx, seed=seed) for seed in spec.seeds]
    scored = [{"seed": s["seed"], **s["final"]} for s in per_seed]
    train = ctx.data.split(spec.dataset, spec.language, "train")
    test = ctx.data.split(spec.dataset, spec.language, "test")
    record = {
        "record_version": RECORD_VERSION,
        "case_id": spec.case_id,
        "spec_hash": spec.spec_hash,
        "status": "ok",
        "spec": spec.to_dict(),
        "labels": list(ctx.data.labels(spec.dataset)),
        "train_label_counts": per_seed[0]["pool"]["label_counts"],
        "n_train": per_seed[0]["pool"]["size"],
        "n_test": len(test.examples),
        "scores": {
            "per_seed": scored,
            **{
                k: round(v, 4)
                for k, v in aggregate(
                    [{k: v for k, v in s.items() if k != "seed"} for s in scored]
                ).items()
            },
        },
        "fits": [],
        "freeal": {"per_seed": per_seed, "rounds": round_means(per_seed)},
        "data": {"train": {"source": train.fingerprint}, "test": test.fingerprint},
        "generation": None,
        "timings": {
            "total_seconds": round(time.perf_counter() - started, 3),
            "fit_seconds_mean": round(
                sum(r["seconds"]["train"] for s in per_seed for r in s["rounds"])
                / max(1, len(per_seed)),
                3,
            ),
        },
        "environment": environment_info(),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_json_atomic(record_path(ctx.results_dir, spec.case_id), record)
    return record


ROUND_METRICS = (
    "label_accuracy",
    "llm_accuracy_fresh",
    "abstention_share",
    "small_model_pool_accuracy",
    "test_macro_f1",
    "test_accuracy",
    "clean",
    "kept",
    "annotated",
)


def round_means(per_seed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per round: the mean over seeds of each metric, and the union of collapsing classes."""
    out = []
    for r in range(min(len(s["rounds"]) for s in per_seed)):
        rows = [s["rounds"][r] for s in per_seed]
        mean = {
            m: round(sum(x[m] for x in rows) / len(rows), 4)
            for m in ROUND_METRICS
            if all(m in x for x in rows)  # "kept" is newer than some records
        }
        mean["collapsing"] = sorted({c for x in rows for c in x["collapsing"]})
        out.append({"round": r, **mean})
    return out
