"""FreeAL section of the leaderboard: per-round metrics and per-class counts."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from benchmark.strategies import FREEAL

INTRO = (
    "## FreeAL\n\n"
    "Per case and round (mean over seeds): **labels** = accuracy of the pool labels used for "
    "training against the hidden gold labels (transductive; an abstention counts as wrong), "
    "**abst** = share of the round's LLM calls that abstained, **clean** = samples the GMM "
    "kept as clean, **F1** = the small model's test macro-F1 (inductive). **sup.** is the same "
    "small model trained on the pool's true labels (upper bound); **collapsing** lists classes "
    "whose pool count fell below half of the previous round's."
)


def _cell(row: dict[str, Any]) -> str:
    return (
        f"{row['label_accuracy']:.1f} / {100 * row['abstention_share']:.0f}% / "
        f"{row['clean']:.0f} / {row['test_macro_f1']:.1f}"
    )


def _sorted(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        (r for r in records if r["spec"]["setting"] == FREEAL),
        key=lambda r: (r["spec"]["dataset"], r["spec"]["language"], r["case_id"]),
    )


def freeal_tables(records: list[dict[str, Any]]) -> str | None:
    """The FreeAL round table and a per-class count table, or None without FreeAL records."""
    rows_in = _sorted(records)
    if not rows_in:
        return None
    n_rounds = max(len(r["freeal"]["rounds"]) for r in rows_in)
    table = []
    for r in rows_in:
        spec, fa = r["spec"], r["spec"]["freeal"]
        rounds = r["freeal"]["rounds"]
        sup = [s["supervised_reference"]["macro_f1"] for s in r["freeal"]["per_seed"]]
        table.append(
            [
                spec["dataset"],
                spec["language"],
                spec["model"],
                fa["demo_source"],
                fa["clean_selection"],
                fa["consistency"],
                fa["pool_size"],
                *(_cell(rounds[k]) if k < len(rounds) else "" for k in range(n_rounds)),
                f"{sum(sup) / len(sup):.1f}",
                ", ".join(sorted({c for x in rounds for c in x["collapsing"]})) or "-",
            ]
        )
    headers = [
        "dataset",
        "lang",
        "LLM",
        "demos",
        "clean selection",
        "consistency",
        "pool",
        *(f"round {k}: labels / abst / clean / F1" for k in range(n_rounds)),
        "sup. F1",
        "collapsing",
    ]
    parts = [INTRO, tabulate(table, headers=headers, tablefmt="github", disable_numparse=True)]
    counts = class_count_table(rows_in)
    if counts:
        parts.append(counts)
    return "\n\n".join(parts)


def class_count_table(records: list[dict[str, Any]]) -> str | None:
    """Per-class pool label counts per round (first seed), next to the true counts."""
    lines = []
    for r in records:
        seed = r["freeal"]["per_seed"][0]
        classes = [c for c in r["labels"]]
        true = seed["pool"]["label_counts"]
        lines.append([r["case_id"], "true", *(true.get(c, 0) for c in classes), "-"])
        for x in seed["rounds"]:
            counts = x["label_counts"]
            lines.append(
                ["", f"round {x['round']}", *(counts.get(c, 0) for c in classes), counts["None"]]
            )
    if not lines:
        return None
    labels = records[0]["labels"]
    if any(r["labels"] != labels for r in records):  # several datasets: one table each
        out = []
        for dataset in sorted({r["spec"]["dataset"] for r in records}):
            part = class_count_table([r for r in records if r["spec"]["dataset"] == dataset])
            if part:
                out.append(part)
        return "\n\n".join(out)
    return (
        f"### FreeAL per-class pool labels ({records[0]['spec']['dataset']}, first seed)\n\n"
        + tabulate(
            lines,
            headers=["case", "labels", *labels, "abstained"],
            tablefmt="github",
            disable_numparse=True,
        )
    )
