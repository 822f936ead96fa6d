"""FreeAL section of the leaderboard: per-round metrics and per-class counts."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from benchmark.case.records import Record, as_record
from benchmark.case.results import FreeALRound
from benchmark.case.spec import FreeALSpec

INTRO = (
    "## FreeAL\n\n"
    "Per case and round (mean over seeds): **labels** = accuracy of the pool labels used for "
    "training against the hidden gold labels (transductive; an abstention counts as wrong), "
    "**abst** = share of the round's LLM calls that abstained, **clean** = samples the GMM "
    "kept as clean, **kept** = texts that kept the small model's label instead of going back "
    "to the LLM, **F1** = the small model's test macro-F1 (inductive). **cal.** = batch "
    "calibration of the LLM's label choice. **variant** = `study` for FreeAL's own refinement, "
    "loss and mixup ramp (Justherozen/FreeAL `mytrainer.py`), otherwise the deviations (records "
    "written before these options existed are `legacy`). **FreeAL F1** = final round, mean ± "
    "sd over seeds. **gold@budget** = the same small model trained (plain cross-entropy) on the "
    "gold examples the run showed the LLM as demonstrations, i.e. the same labelled budget "
    "(n = their count); **Δ** = FreeAL F1 minus gold@budget (negative: the labelled examples "
    "alone train a better small model). **sup. (pool)** = the small model trained on the "
    "pool's true labels (upper bound); **collapsing** lists classes whose pool count fell below "
    "half of the previous round's."
)

STUDY = {"refinement": "freeal", "consistency_loss": "freeal", "mixup_ramp": True}


def variant(fa: FreeALSpec) -> str:
    """`study`, `legacy` (a record from before the options), or the deviating options."""
    if "refinement" not in fa.model_fields_set:
        return "legacy"
    parts = [f"{k}={getattr(fa, k)}" for k, v in STUDY.items() if getattr(fa, k) != v]
    if fa.feedback_fraction != 0.2:
        parts.append(f"feedback_fraction={fa.feedback_fraction}")
    return ", ".join(parts) or "study"


def _cell(row: FreeALRound) -> str:
    kept = row.kept
    return (
        f"{row.label_accuracy:.1f} / {100 * row.abstention_share:.0f}% / "
        f"{row.clean:.0f} / {'-' if kept is None else f'{kept:.0f}'} / "
        f"{row.test_macro_f1:.1f}"
    )


def _mean_sd(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    sd = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0
    return mean, sd


def freeal_records(records: list[Record] | list[dict[str, Any]]) -> list[Record]:
    """The records that carry the FreeAL setting's block."""
    return [r for r in map(as_record, records) if r.freeal]


def _sorted(records: list[Record] | list[dict[str, Any]]) -> list[Record]:
    return sorted(freeal_records(records), key=lambda r: (r.dataset, r.language, r.case_id))


def budget_columns(record: Record | dict[str, Any]) -> tuple[str, str, str]:
    """FreeAL F1 (mean ± sd), gold@budget F1 with its n, and their difference."""
    seeds = as_record(record).freeal_per_seed
    final = [s.final.macro_f1 for s in seeds]
    mean, sd = _mean_sd(final)
    freeal = f"{mean:.1f} ± {sd:.1f}" if len(final) > 1 else f"{mean:.1f}"
    gold = [s.same_budget_reference for s in seeds]
    if any(g is None for g in gold):
        return freeal, "-", "-"
    gold_mean, gold_sd = _mean_sd([g.macro_f1 for g in gold])
    n = "/".join(sorted({str(g.n) for g in gold}))
    shown = f"{gold_mean:.1f} ± {gold_sd:.1f}" if len(gold) > 1 else f"{gold_mean:.1f}"
    deltas = [f - g.macro_f1 for f, g in zip(final, gold, strict=True)]
    return freeal, f"{shown} (n={n})", f"{sum(deltas) / len(deltas):+.1f}"


def freeal_tables(records: list[Record] | list[dict[str, Any]]) -> str | None:
    """The FreeAL round table and a per-class count table, or None without FreeAL records."""
    rows_in = _sorted(records)
    if not rows_in:
        return None
    n_rounds = max(len(r.freeal_rounds) for r in rows_in)
    table = []
    for r in rows_in:
        fa = FreeALSpec.of(r.freeal_spec)
        rounds = r.freeal_rounds
        sup = [s.supervised_reference.macro_f1 for s in r.freeal_per_seed]
        table.append(
            [
                r.dataset,
                r.language,
                r.model,
                fa.demo_source,
                fa.clean_selection,
                fa.consistency,
                fa.calibration,
                variant(fa),
                fa.pool_size,
                len(r.freeal_per_seed),
                *(_cell(rounds[k]) if k < len(rounds) else "" for k in range(n_rounds)),
                *budget_columns(r),
                f"{sum(sup) / len(sup):.1f}",
                ", ".join(sorted({c for x in rounds for c in x.collapsing})) or "-",
            ]
        )
    headers = [
        "dataset",
        "lang",
        "LLM",
        "demos",
        "clean selection",
        "consistency",
        "cal.",
        "variant",
        "pool",
        "seeds",
        *(f"round {k}: labels / abst / clean / kept / F1" for k in range(n_rounds)),
        "FreeAL F1",
        "gold@budget F1",
        "Δ",
        "sup. (pool) F1",
        "collapsing",
    ]
    parts = [INTRO, tabulate(table, headers=headers, tablefmt="github", disable_numparse=True)]
    counts = class_count_table(rows_in)
    if counts:
        parts.append(counts)
    return "\n\n".join(parts)


def class_count_table(records: list[Record] | list[dict[str, Any]]) -> str | None:
    """Per-class pool label counts per round (first seed), next to the true counts."""
    records = [as_record(r) for r in records]
    lines = []
    for r in records:
        seed = r.freeal_per_seed[0]
        classes = list(r.labels)
        true = seed.pool.label_counts
        lines.append([r.case_id, "true", *(true.get(c, 0) for c in classes), "-"])
        for x in seed.rounds:
            counts = x.label_counts
            lines.append(
                ["", f"round {x.round}", *(counts.get(c, 0) for c in classes), counts["None"]]
            )
    if not lines:
        return None
    labels = records[0].labels
    if any(r.labels != labels for r in records):  # several datasets: one table each
        out = []
        for dataset in sorted({r.dataset for r in records}):
            part = class_count_table([r for r in records if r.dataset == dataset])
            if part:
                out.append(part)
        return "\n\n".join(out)
    return f"### FreeAL per-class pool labels ({records[0].dataset}, first seed)\n\n" + tabulate(
        lines,
        headers=["case", "labels", *labels, "abstained"],
        tablefmt="github",
        disable_numparse=True,
    )
