"""FreeAL's labelled budget without the LLM: the small model trained on the gold demos a
gold-demo FreeAL case shows the LLM, next to the pool-labels upper bound (test macro-F1).

    python measure/freeal_budget.py [tasks/freeal_small.yaml]

Uses the same functions as a FreeAL case (`benchmark.freeal.rounds`), so the seed-0 pool
value equals the `supervised_reference` of a FreeAL record with the same spec.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmark.context import RunContext
from benchmark.freeal import rounds
from benchmark.freeal.train import RobustConfig
from benchmark.paths import default_data_dir
from benchmark.runner.taskfile import load_cases


def main(task: Path) -> None:
    data = default_data_dir()
    ctx = RunContext(results_dir=Path(tempfile.mkdtemp()) / "results", data_dir=data)
    rows = []
    for spec in load_cases(task, data_dir=data):
        fa = spec.freeal
        if fa.demo_source != "gold" or fa.clean_selection != "reference":
            continue
        if any(r["case"][:2] == (spec.dataset, spec.language) for r in rows):
            continue  # the budget does not depend on the other axes
        index = {c: i for i, c in enumerate(ctx.data.labels(spec.dataset))}
        train = ctx.data.split(spec.dataset, spec.language, "train")
        test = ctx.data.split(spec.dataset, spec.language, "test")
        features, lr = rounds.classifier_features(spec, ctx)
        config = RobustConfig.from_options(fa, lr=lr)
        for seed in spec.seeds:
            t0 = time.perf_counter()
            pool = rounds.draw_pool(train, fa.pool_size, seed=seed)
            demos, _ = rounds.demo_source(spec, ctx, train, pool, seed=seed)
            gold, _ = rounds.supervised_reference(
                features,
                [t for t, _ in demos],
                [y for _, y in demos],
                index,
                test,
                config,
                seed=seed,
            )
            sup, _ = rounds.supervised_reference(
                features,
                [e.text for e in pool],
                [e.label for e in pool],
                index,
                test,
                config,
                seed=seed,
            )
            row = {
                "case": (spec.dataset, spec.language, seed),
                "gold_demos": len(demos),
                "gold_budget_f1": round(gold.macro_f1, 2),
                "pool_true_labels_f1": round(sup.macro_f1, 2),
                "seconds": round(time.perf_counter() - t0, 1),
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
    print("\n| dataset / lang | gold demos | gold@budget F1 | pool true labels F1 |")
    print("|---|---|---|---|")
    for key in sorted({r["case"][:2] for r in rows}):
        mine = [r for r in rows if r["case"][:2] == key]
        print(
            f"| {key[0]} {key[1]} | {mine[0]['gold_demos']} "
            f"| {statistics.fmean(r['gold_budget_f1'] for r in mine):.1f} "
            f"| {statistics.fmean(r['pool_true_labels_f1'] for r in mine):.1f} |"
        )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "tasks/freeal_small.yaml"))
