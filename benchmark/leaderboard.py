"""LEADERBOARD.md, rebuilt from the result records alone (deterministic output)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from tabulate import tabulate

from benchmark.figures import f1_by_language_figure
from benchmark.records import read_records
from benchmark.strategies import FREEAL, GOLD

LANGUAGE_ORDER = ("en", "de", "th", "he", "id", "sw", "ro", "az", "sl", "te", "cy")
HEADER = (
    "# Leaderboard\n\n"
    "Generated from {n} result records in `{results}` by `lowres-bench leaderboard`; "
    "do not edit by hand. Cells: test macro-F1 (x100, mean over seeds) and, for generated "
    "settings, the gap to the gold baseline of the same dataset, language, classifier and "
    "samples per label (gold takes *up to* n per label).\n"
)


def _fmt(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return ""
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def _gold_index(records: list[dict[str, Any]]) -> dict[tuple, float]:
    return {
        _cell_key(r): r["scores"]["macro_f1_mean"] for r in records if r["spec"]["setting"] == GOLD
    }


def _cell_key(record: dict[str, Any]) -> tuple:
    spec = record["spec"]
    return (spec["dataset"], spec["language"], spec["classifier_slug"], spec["samples_per_label"])


def gap_to_gold(record: dict[str, Any], gold: dict[tuple, float]) -> float | None:
    """F1 minus the matching gold F1 (None for gold rows or when no gold record exists)."""
    if record["spec"]["setting"] == GOLD:
        return None
    base = gold.get(_cell_key(record))
    return None if base is None else record["scores"]["macro_f1_mean"] - base


def _row_key(record: dict[str, Any]) -> tuple:
    spec = record["spec"]
    extras = [
        f"{prefix}{(spec.get(key) or {}).get('method')}"
        for key, prefix in (("selection", ""), ("augmentation", "aug:"))
        if spec.get(key)
    ]
    if spec.get("gates"):  # gated and ungated runs of a setting are separate rows
        extras.append("gate:" + "+".join(spec["gates"]["names"]))
    return (spec["setting"] != GOLD, spec["setting"], spec["model"] or "", " + ".join(extras))


def summary_tables(records: list[dict[str, Any]], *, figures_dir: Path | None = None) -> list[str]:
    """One table per (dataset, classifier, n): rows = (setting, model), columns = languages + mean."""
    gold = _gold_index(records)
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        spec = r["spec"]
        if spec["setting"] == FREEAL:  # own section (one row per demo source x variant)
            continue
        groups[(spec["dataset"], r["spec"]["classifier_slug"], spec["samples_per_label"])].append(r)
    out = []
    for (dataset, clf, n), rows in sorted(groups.items()):
        langs = [
            code for code in LANGUAGE_ORDER if any(r["spec"]["language"] == code for r in rows)
        ]
        langs += sorted({r["spec"]["language"] for r in rows} - set(langs))
        by_row: dict[tuple, dict[str, dict]] = defaultdict(dict)
        for r in rows:
            by_row[_row_key(r)][r["spec"]["language"]] = r
        table = []
        for key in sorted(by_row):
            cells = by_row[key]
            line = [key[1] + (f" + {key[3]}" if key[3] else ""), key[2] or "-"]
            for code in langs:
                r = cells.get(code)
                if r is None:
                    line.append("")
                    continue
                gap = gap_to_gold(r, gold)
                f1 = _fmt(r["scores"]["macro_f1_mean"])
                line.append(f1 if gap is None else f"{f1} ({_fmt(gap, signed=True)})")
            f1s = [cells[c]["scores"]["macro_f1_mean"] for c in langs if c in cells]
            mark = "" if len(f1s) == len(langs) else f" [{len(f1s)}/{len(langs)}]"
            line.append(f"{statistics.fmean(f1s):.1f}{mark}")
            table.append(line)
        title = f"## {dataset} · {clf} · n={n} per label\n\n"
        if figures_dir is not None and len(by_row) > 1:
            name = f"f1_{dataset}_{clf}_n{n}.png"
            f1_by_language_figure(
                rows, title=title[3:].strip(), path=figures_dir / name, languages=langs
            )
            title += f"![macro-F1 by language]({figures_dir.name}/{name})\n\n"
        out.append(
            title
            + tabulate(
                table,
                headers=["setting", "model", *langs, "mean"],
                tablefmt="github",
                disable_numparse=True,
            )
        )
    return out


def detail_table(records: list[dict[str, Any]]) -> str:
    """Every case: F1 and accuracy mean ± std, gap, seeds, sizes and timings."""
    gold = _gold_index(records)
    rows = []
    for r in records:
        s = r["scores"]
        rows.append(
            [
                r["case_id"],
                f"{s['macro_f1_mean']:.1f} ± {s['macro_f1_std']:.1f}",
                f"{s['accuracy_mean']:.1f} ± {s['accuracy_std']:.1f}",
                _fmt(gap_to_gold(r, gold), signed=True),
                len(s["per_seed"]),
                r["n_train"],
                f"{r['timings']['fit_seconds_mean']:.1f}",
                f"{r['timings']['total_seconds']:.0f}",
            ]
        )
    headers = ["case", "macro-F1", "accuracy", "gap", "seeds", "n train", "fit s/seed", "total s"]
    return "## All cases\n\n" + tabulate(
        rows, headers=headers, tablefmt="github", disable_numparse=True
    )


def _throughput(gen: dict[str, Any]) -> list[str]:
    cold = gen.get("cold", None if gen.get("cache_hits") else gen)
    if cold is None:  # made (partly) from cache and no cold run on record
        return [f"cached ({gen['cache_hits']}/{gen['stats']['requests']})", "", ""]
    return [
        _fmt(cold["samples_per_second"]),
        _fmt(cold["tokens_per_second"]),
        f"{cold['stats']['seconds']:.0f}",
    ]


def generation_table(records: list[dict[str, Any]]) -> str | None:
    """Generated cases: how much was kept, copied, rejected, and how fast it was made."""
    rows = []
    for r in records:
        gen = r.get("generation")
        if not gen:
            continue
        n = r["spec"]["samples_per_label"]
        per_label = gen["per_label"]
        kept = sum(min(v["kept"], n) for v in per_label.values())
        stats = gen["stats"]
        rows.append(
            [
                r["case_id"],
                f"{kept}/{n * len(per_label)}",
                ", ".join(gen["short_labels"]) or "-",
                gen["demo_copies"],
                gen["rejected"],
                sum(v["duplicate"] for v in per_label.values()),
                stats["requests"],
                *_throughput(gen),
            ]
        )
    if not rows:
        return None
    headers = [
        "case",
        "kept/target",
        "short labels",
        "demo copies",
        "rejected",
        "duplicates",
        "LLM calls",
        "samples/s",
        "tokens/s",
        "gen s",
    ]
    note = (
        "Throughput counts accepted samples and completion tokens per second of LLM time; it is "
        "taken from the run that called the model (a rerun served from the response cache keeps "
        "the cold figures)."
    )
    return (
        "## Generation\n\n"
        + note
        + "\n\n"
        + tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
    )


def quality_tables(records: list[dict[str, Any]]) -> str | None:
    """Quality metrics of every generated set, and their Spearman correlation with macro-F1."""
    from benchmark.quality import QUALITY_METRICS, spearman_table

    rated = [r for r in records if r.get("quality")]
    if not rated:
        return None
    rows = [
        [
            r["case_id"],
            *(_fmt_metric(m, r["quality"].get(m)) for m in QUALITY_METRICS),
            _fmt(r["scores"]["macro_f1_mean"]),
        ]
        for r in rated
    ]
    headers = ["case", *QUALITY_METRICS, "macro-F1"]
    intro = (
        "## Generated-data quality\n\nRates in [0, 1]. Language fidelity: share of samples that "
        "py3langid identifies as the target language; label fidelity: agreement of a logistic "
        "regression trained on gold embeddings with the generated labels; centroid cosine: "
        "between the generated set and a same-size gold sample; label error rate: share of "
        "samples that confident learning (cross-validated logistic regression on the set's own "
        "embeddings) flags as likely mislabelled; Fréchet to gold: Fréchet distance (as in FID, "
        "ridge 1e-6) between the embeddings of the generated set and the gold sample, not a rate "
        "(0 = same distribution). Blank: not defined for the case, or not recorded (records "
        "written before the metric existed)."
    )
    corr = spearman_table(
        [{**r["quality"], "macro_f1": r["scores"]["macro_f1_mean"]} for r in rated], QUALITY_METRICS
    )
    table = [[m, "" if rho is None else f"{rho:+.2f}", n] for m, rho, n in corr]
    corr_intro = (
        "### Which quality metric predicts downstream macro-F1?\n\nSpearman correlation across "
        "all generated cases (any dataset, language and model), strongest first; cases without "
        "a value for a metric are left out of its correlation (`cases` counts the rest)."
    )
    return "\n\n".join(
        [
            intro,
            tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True),
            corr_intro,
            tabulate(
                table,
                headers=["metric", "Spearman rho", "cases"],
                tablefmt="github",
                disable_numparse=True,
            ),
        ]
    )


def _fmt_rate(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _fmt_metric(metric: str, value: float | None) -> str:
    """A quality metric's cell: rates to 2 decimals, the Fréchet distance to 3, blank if None."""
    if value is None:
        return ""
    return f"{value:.3f}" if metric == "frechet_to_gold" else _fmt_rate(value)


def render(
    results_dir: Path, *, display: str | None = None, figures_dir: Path | None = None
) -> str:
    """The whole leaderboard as Markdown (`display` is the results path shown in the header)."""
    records = read_records(results_dir)
    parts = [HEADER.format(n=len(records), results=display or results_dir.as_posix())]
    if not records:
        parts.append("No records yet.")
    else:
        parts.extend(summary_tables(records, figures_dir=figures_dir))
        generation = generation_table(records)
        if generation:
            parts.append(generation)
        quality = quality_tables(records)
        if quality:
            parts.append(quality)
        from benchmark.freeal.report import freeal_tables

        freeal = freeal_tables(records)
        if freeal:
            parts.append(freeal)
        parts.append(detail_table(records))
    return "\n\n".join(parts).rstrip() + "\n"


def write_leaderboard(out_dir: Path) -> Path:
    """Rebuild `out_dir/LEADERBOARD.md` from `out_dir/results` (atomic replace)."""
    from benchmark.records import write_text_atomic

    path = out_dir / "LEADERBOARD.md"
    results = out_dir / "results"
    try:
        display = results.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        display = f"{out_dir.name}/results"
    write_text_atomic(path, render(results, display=display, figures_dir=out_dir / "figures"))
    return path
