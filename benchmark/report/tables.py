"""The leaderboard's tables, built from result records alone (deterministic output).

Macro-F1 pivots per dataset, classifier and size (with figures), every case, generation counts
and throughput, quality metrics, FreeAL and the superseded records; `benchmark.report.leaderboard`
places them on LEADERBOARD.md and its linked pages. Rows carry short labels (language,
setting, model); the case id is in the label's tooltip. Tables are compact pipe tables (no
padding), folded in `<details>` when long.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.case.records import Record, as_record, record_flags
from benchmark.case.results import CaseGeneration
from benchmark.quality import QUALITY_METRICS, spearman_table
from benchmark.report.figures import f1_by_language_figure, freeal_rounds_figure, gap_to_gold_figure
from benchmark.report.freeal_tables import freeal_records, freeal_tables
from benchmark.report.rows import (
    LANGUAGE_ORDER,
    _gold_index,
    gap_to_gold,
    is_baseline,
    reported_apart,
    variant,
)

MIN_SPEARMAN_CASES = 10  # fewer cases than this: a rank correlation says little, row not shown
FOLD_ROWS = 10  # tables longer than this are folded


def _fmt(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return ""
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def fmt_rate(value: float | None) -> str:
    """A throughput with 3 significant digits (0.0612, 1.23, 45.6, 1234), blank if None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def row_label(
    record: Record | dict[str, Any], *, fields: tuple[str, ...], tooltip: bool = True
) -> str:
    """A short label from the spec `fields` (language, variant, model, n, classifier), with
    the case id as its tooltip (only in the all-cases table, to keep the page short)."""
    record = as_record(record)
    values = {
        "language": lambda: record.language,
        "variant": lambda: variant(record),
        "model": lambda: record.model,
        "n": lambda: f"n={record.samples_per_label}",
        "classifier": lambda: record.classifier_slug,
    }
    text = html.escape(" · ".join(v for v in (values[f]() for f in fields) if v))
    if not tooltip:
        return text
    return f'<span title="{html.escape(record.case_id)}">{text}</span>'


def language_order(codes) -> list[str]:
    """Language codes in the study's order (others after them, sorted)."""
    present = set(codes)
    return [c for c in LANGUAGE_ORDER if c in present] + sorted(present - set(LANGUAGE_ORDER))


def markdown_table(frame: pd.DataFrame, *, index: bool = False) -> str:
    """A compact GitHub pipe table; numeric-looking columns are right-aligned."""
    if index:
        frame = frame.reset_index()
    cells = frame.astype(object).where(frame.notna(), "").astype(str)
    cells = cells.apply(lambda col: col.str.replace("|", "\\|", regex=False))

    def numeric(column: pd.Series) -> bool:
        values = [v for v in column if v]
        return bool(values) and all(
            v.replace("±", "").replace(" ", "").lstrip("+-").replace(".", "", 1)[:1].isdigit()
            for v in values
        )

    align = ["---:" if numeric(cells[c]) else "---" for c in cells.columns]
    lines = [
        "| " + " | ".join(map(str, cells.columns)) + " |",
        "|" + "|".join(align) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in cells.itertuples(index=False)]
    return "\n".join(lines)


def folded(summary: str, body: str, *, rows: int, fold_rows: int = FOLD_ROWS) -> str:
    """`body` inside `<details>` when it has more than `fold_rows` rows, else as is."""
    if rows <= fold_rows:
        return body
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


def case_frame(records: list[Record], marks: dict[str, str]) -> pd.DataFrame:
    """One row per record: its cell (dataset, classifier, n, language), row keys and scores."""
    gold = _gold_index(records)
    rows = []
    for r in records:
        rows.append(
            {
                "record": r,
                "dataset": r.dataset,
                "classifier": r.classifier_slug,
                "n": r.samples_per_label,
                "language": r.language,
                "gold": is_baseline(r),
                "variant": variant(r),
                "model": r.model or "-",
                "f1": r.macro_f1,
                "f1_std": r.macro_f1_std,
                "gap": gap_to_gold(r, gold),
                "matched_gap": r.matched_gap,
                "matched_mark": marks.get(r.case_id, ""),
            }
        )
    return pd.DataFrame(rows)


def cell_text(f1: float, gap: float | None, matched: float | None, mark: str = "") -> str:
    """`f1`, `f1 (gap)` or `f1 (gap / matched gap)`; empty parts as `-`; `mark` follows the
    matched gap (`*`: significant)."""
    gap = None if gap is None or pd.isna(gap) else gap
    matched = None if matched is None or pd.isna(matched) else matched
    if gap is None and matched is None:
        return _fmt(f1)
    if matched is None:
        return f"{_fmt(f1)} ({_fmt(gap, signed=True)})"
    return f"{_fmt(f1)} ({_fmt(gap, signed=True) or '-'} / {_fmt(matched, signed=True)}{mark})"


def summary_tables(
    records: list[Record] | list[dict[str, Any]],
    *,
    figures_dir: Path | None = None,
    fold_rows: int = FOLD_ROWS,
    marks: dict[str, str] | None = None,
    figure_link: str = "",
) -> list[str]:
    """One pivot per (dataset, classifier, n): rows = (setting, model), columns = languages
    + mean; with a bar chart (error bars: std over seeds) and a gap-to-gold chart. `marks`:
    case id -> `*` where the gap to matched gold is significant (`matched_marks`);
    `figure_link`: the path from the page to `figures_dir`'s parent (e.g. `../`)."""

    scored = [r for r in map(as_record, records) if not reported_apart(r)]  # own section
    if not scored:
        return []
    df = case_frame(scored, marks or {})
    df["cell"] = [
        cell_text(f1, gap, matched, mark)
        for f1, gap, matched, mark in zip(
            df.f1, df.gap, df.matched_gap, df.matched_mark, strict=True
        )
    ]
    out = ["## Macro-F1 by dataset, classifier and size"]
    for (dataset, clf, n), group in df.groupby(["dataset", "classifier", "n"], sort=True):
        langs = language_order(group.language)
        table = group.pivot_table(
            index=["gold", "variant", "model"], columns="language", values="cell", aggfunc="first"
        ).reindex(columns=langs)
        means = group.groupby(["gold", "variant", "model"]).f1.agg(["mean", "count"])
        table["mean"] = [
            f"{m:.1f}" + ("" if c == len(langs) else f" [{c}/{len(langs)}]")
            for m, c in zip(means["mean"], means["count"], strict=True)
        ]
        table = table.sort_index(key=lambda idx: idx if idx.name != "gold" else ~idx)
        table.index = table.index.droplevel("gold")
        title = f"{dataset} · {clf} · n={n} per label"
        part = f"### {title}\n\n"
        if figures_dir is not None and len(table) > 1:
            name = f"f1_{dataset}_{clf}_n{n}.png"
            rows = list(group.record)
            f1_by_language_figure(rows, title=title, path=figures_dir / name, languages=langs)
            part += f"![macro-F1 by language]({figure_link}{figures_dir.name}/{name})\n\n"
            if group.gap.notna().any():
                gap_name = f"gap_{dataset}_{clf}_n{n}.png"
                gap_to_gold_figure(
                    rows, _gold_index(rows), title=title, path=figures_dir / gap_name
                )
                part += f"![gap to gold]({figure_link}{figures_dir.name}/{gap_name})\n\n"
        body = markdown_table(table.rename_axis(columns=None), index=True)
        out.append(
            part
            + folded(
                f"table: {len(table)} settings x {len(langs)} languages",
                body,
                rows=len(table),
                fold_rows=fold_rows,
            )
        )
    return out


def detail_table(
    records: list[Record] | list[dict[str, Any]],
    *,
    fold_rows: int = FOLD_ROWS,
    marks: dict[str, str] | None = None,
) -> str:
    """Every case: F1 and accuracy mean ± std, gap, seeds, sizes and timings, per (dataset,
    classifier, n); the case id is the row label's tooltip; `marks` as in `summary_tables`."""
    records = [as_record(r) for r in records]
    marks = marks or {}
    gold = _gold_index(records)
    parts = ["## All cases"]
    groups: dict[tuple, list[Record]] = {}
    for r in records:
        key = (r.dataset, r.classifier_slug, r.samples_per_label)
        groups.setdefault(key, []).append(r)
    for (dataset, clf, n), rows in sorted(groups.items()):
        frame = pd.DataFrame(
            [
                {
                    "case": row_label(r, fields=("language", "variant", "model"))
                    + (" †" if record_flags(r) else ""),
                    "macro-F1": f"{r.macro_f1:.1f} ± {r.macro_f1_std:.1f}",
                    "± gen. seeds": _fmt(r.macro_f1_std_over_generation_seeds),
                    "accuracy": f"{r.accuracy_mean:.1f} ± {r.accuracy_std:.1f}",
                    "gap": _fmt(gap_to_gold(r, gold), signed=True),
                    "matched gold": _fmt(r.matched_gold_f1),
                    "gap matched": _fmt(r.matched_gap, signed=True) + marks.get(r.case_id, ""),
                    "seeds": r.n_seeds,
                    "n train": r.n_train,
                    "fit s/seed": f"{r.fit_seconds_mean:.1f}",
                    "total s": f"{r.total_seconds:.0f}",
                }
                for r in rows
            ]
        )
        parts.append(
            f"### {dataset} · {clf} · n={n} per label\n\n"
            + folded(
                f"{len(frame)} cases", markdown_table(frame), rows=len(frame), fold_rows=fold_rows
            )
        )
    if any(record_flags(r) for r in records):
        parts.append("† written from a working tree with uncommitted changes to the code.")
    return "\n\n".join(parts)


def superseded_section(
    records: list[Record] | list[dict[str, Any]], *, fold_rows: int = FOLD_ROWS
) -> str | None:
    """Records of older semantics (no matched control, one unseeded-variance generated set,
    unweighted classifier), kept for reference and never mixed into the tables above."""
    if not records:
        return None
    frame = pd.DataFrame(
        [
            {
                "case": row_label(r, fields=("language", "variant", "model", "n")),
                "dataset": r.dataset,
                "macro-F1": _fmt(r.macro_f1),
                "written": r.finished_at[:10],
            }
            for r in map(as_record, records)
        ]
    )
    return (
        "## Superseded records\n\nWritten before matched gold controls, generation seeds, "
        "class-balanced classifiers and the study's defaults (record version 1); rerun their "
        "task files to replace them.\n\n"
        + folded(
            f"{len(frame)} superseded records",
            markdown_table(frame),
            rows=len(frame),
            fold_rows=fold_rows,
        )
    )


def _throughput(gen: CaseGeneration) -> list[str]:
    cold = gen.cold_throughput
    if cold is None:  # made (partly) from cache and no cold run on record
        return [f"cached ({gen.cache_hits}/{gen.stats['requests']})", "", ""]
    return [
        fmt_rate(cold.samples_per_second),
        fmt_rate(cold.tokens_per_second),
        f"{cold.stats['seconds']:.0f}",
    ]


def generation_table(
    records: list[Record] | list[dict[str, Any]], *, fold_rows: int = FOLD_ROWS
) -> str | None:
    """Generated cases: how much was kept, copied, rejected, and how fast it was made."""
    rows = []
    for r in map(as_record, records):
        gen = r.generation
        if not gen:
            continue
        n = r.samples_per_label
        per_label = gen.per_label
        kept = sum(min(v["kept"], n) for v in per_label.values())
        short = gen.short_labels
        rows.append(
            {
                "dataset": r.dataset,
                "case": row_label(r, fields=("language", "variant", "model", "n"), tooltip=False),
                "kept/target": f"{kept}/{n * len(per_label)}",
                "short labels": (
                    f'<span title="{html.escape(", ".join(short))}">{len(short)}</span>'
                    if short
                    else "0"
                ),
                "demo copies": gen.demo_copies,
                "rejected": gen.rejected,
                "duplicates": sum(v["duplicate"] for v in per_label.values()),
                "LLM calls": gen.stats["requests"],
                **dict(zip(("samples/s", "tokens/s", "gen s"), _throughput(gen), strict=True)),
            }
        )
    if not rows:
        return None
    note = (
        "Throughput counts accepted samples and completion tokens per second of LLM time; it is "
        "taken from the run that called the model (a rerun served from the response cache keeps "
        "the cold figures). Hover a short-label count for the labels; the case ids are in the "
        "all-cases table."
    )
    frame = pd.DataFrame(rows)
    parts = ["## Generation", note]
    parts += per_dataset(frame, "{}", "generated cases", fold_rows)
    return "\n\n".join(parts)


def per_dataset(frame: pd.DataFrame, heading: str, what: str, fold_rows: int) -> list[str]:
    """One `### <heading>` section per dataset of `frame`, its table folded when long."""
    sections = []
    for dataset, group in frame.groupby("dataset", sort=True):
        table = group.drop(columns="dataset")
        sections.append(
            f"### {heading.format(dataset)}\n\n"
            + folded(
                f"{len(table)} {what}", markdown_table(table), rows=len(table), fold_rows=fold_rows
            )
        )
    return sections


def quality_tables(
    records: list[Record] | list[dict[str, Any]],
    *,
    fold_rows: int = FOLD_ROWS,
    min_spearman_cases: int = MIN_SPEARMAN_CASES,
) -> str | None:
    """Quality metrics of every generated set, and their Spearman correlation with macro-F1
    (shown for metrics with at least `min_spearman_cases` cases)."""

    rated = [r for r in map(as_record, records) if r.quality]
    if not rated:
        return None
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
    corr = spearman_table([{**r.quality, "macro_f1": r.macro_f1} for r in rated], QUALITY_METRICS)
    shown = [(m, rho, n) for m, rho, n in corr if rho is not None and n >= min_spearman_cases]
    left_out = [f"{m} ({n} cases)" for m, rho, n in corr if (m, rho, n) not in shown]
    corr_text = (
        "### Which quality metric predicts downstream macro-F1?\n\nSpearman correlation across "
        "all generated cases (any dataset, language and model), strongest first; cases without "
        f"a value for a metric are left out of its correlation (`cases` counts the rest). "
        f"Metrics with fewer than {min_spearman_cases} cases, or no variation, are not shown"
        + (f": {', '.join(left_out)}." if left_out else ".")
    )
    if shown:
        corr_text += "\n\n" + markdown_table(
            pd.DataFrame(
                [{"metric": m, "Spearman rho": f"{rho:+.2f}", "cases": n} for m, rho, n in shown]
            )
        )
    parts = [intro, corr_text]
    frame = pd.DataFrame(
        [
            {
                "dataset": r.dataset,
                "case": row_label(r, fields=("language", "variant", "model", "n"), tooltip=False),
                **{m: _fmt_metric(m, r.quality.get(m)) for m in QUALITY_METRICS},
                "macro-F1": _fmt(r.macro_f1),
            }
            for r in rated
        ]
    )
    parts += per_dataset(frame, "Quality: {}", "generated sets", fold_rows)
    return "\n\n".join(parts)


def _fmt_rate(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _fmt_metric(metric: str, value: float | None) -> str:
    """A quality metric's cell: rates to 2 decimals, the Fréchet distance to 3, blank if None."""
    if value is None:
        return ""
    return f"{value:.3f}" if metric == "frechet_to_gold" else _fmt_rate(value)


def freeal_section(
    records: list[Record] | list[dict[str, Any]], *, figures_dir: Path | None
) -> str | None:
    """The FreeAL tables (`benchmark.report.freeal_tables`), folded, under a per-round chart."""

    tables = freeal_tables(records)
    if not tables:
        return None
    head, sep, rest = tables.partition("\n\n")
    if not head.startswith("## "):
        head, rest = "## FreeAL", tables
    part = head + "\n\n"
    if figures_dir is not None:
        path = freeal_rounds_figure(
            freeal_records(records),
            path=figures_dir / "freeal_rounds.png",
        )
        if path is not None:
            part += f"![FreeAL per round]({figures_dir.name}/{path.name})\n\n"
    return part + f"<details><summary>FreeAL tables</summary>\n\n{rest}\n\n</details>"
