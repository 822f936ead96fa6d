"""LEADERBOARD.md and its linked pages, rebuilt from the result records alone (deterministic).

LEADERBOARD.md stays short whatever the number of records: what the closest generated rows
mean ("In short"), the answers (`benchmark.report.summary`), one macro-F1 table per dataset
and links. Everything else goes to pages beside it, rebuilt by the same call:

- `details/<dataset>.md`: macro-F1 pivots per classifier and size with figures, every case;
- `generation.md`, `quality.md`, `freeal.md`: generation counts and throughput, quality
  metrics of the generated sets, FreeAL tables;
- `superseded.md`: records of older semantics (LEADERBOARD.md gives them one line).

The tables themselves are built in `benchmark.report.tables`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmark.case.records import Record, read_records, write_text_atomic
from benchmark.report.arms_answer import arm_rows, arms_short
from benchmark.report.rows import (
    LANGUAGE_ORDER,
    _gold_index,
    is_baseline,
    off_language,
    reported_apart,
    variant,
)
from benchmark.report.significance import matched_marks
from benchmark.report.summary import current, is_superseded, summary_markdown
from benchmark.report.tables import (
    FOLD_ROWS,
    case_frame,
    cell_text,
    detail_table,
    fmt_rate,
    freeal_section,
    generation_table,
    language_order,
    markdown_table,
    quality_tables,
    summary_tables,
    superseded_section,
)

__all__ = [
    "cell_text",
    "detail_table",
    "display_path",
    "fmt_rate",
    "in_short",
    "markdown_table",
    "quality_tables",
    "render",
    "render_pages",
    "write_leaderboard",
]

MAIN = "LEADERBOARD.md"
DETAILS = "details"
# Pages beside LEADERBOARD.md: (file, title, what it is for). Only these are ever removed.
SIDE_PAGES = (
    (
        "generation.md",
        "Generation",
        "How much each generated case kept, copied, rejected and how fast it was made.",
    ),
    (
        "quality.md",
        "Quality of the generated data",
        "Quality metrics of every generated set and how well each predicts downstream macro-F1.",
    ),
    ("freeal.md", "FreeAL", "FreeAL runs: per-round scores, pool labels and options."),
    (
        "superseded.md",
        "Superseded records",
        "Records written with older semantics, kept for reference and never mixed into the "
        "tables or the answers.",
    ),
)
MAX_SHORT_CELLS = 6  # "In short" names at most this many cells; answer 1 has them all
HEADER = (
    "Written by `{command}` from {n} result records in `{results}`; do not edit by hand "
    "(`lowres-bench leaderboard` rebuilds it and its linked pages from the records). Scores: "
    "test macro-F1 (x100, mean over seeds); for generated settings `(a / b)`: a = gap to the "
    "gold baseline of the same dataset, language, classifier and samples per label (gold takes "
    "*up to* n per label), b = gap to the matched gold control (gold with the generated set's "
    "exact per-label counts, same seeds), with `*` where a paired bootstrap finds it "
    "significant after Holm-Bonferroni correction over every matched-gold gap of the page."
)
SHORT_INTRO = (
    "**In short.** The closest generated training set of each cell, against gold with the same "
    "per-label counts (*matched gold*). The gap is what a classifier loses by learning from "
    "generated text instead of as many real examples: 0 would mean the generated data is as "
    "good as real data, and a gap as large as the gold score minus chance means it teaches "
    "nothing. Sets mostly not in their target language are never named here (they answer "
    "nothing about the language)."
)


def _significance(record: Record, marks: dict[str, str]) -> str:
    if record.case_id not in marks:
        return "not tested (no stored predictions)"
    if marks[record.case_id]:
        return "significant (paired bootstrap, Holm-corrected over every matched-gold gap)"
    return "within noise (paired bootstrap, Holm-corrected over every matched-gold gap)"


def in_short(records: list[Record], marks: dict[str, str]) -> str | None:
    """The closest plain generated row (no selection, augmentation or gates) of each cell
    (dataset, language, classifier, n) against its matched gold, and what the gap means.

    Args:
        records: the current records.
        marks: case id -> `*` or "" (`matched_marks`).

    Returns:
        Markdown, or None when no generated row has a matched gold control.
    """
    best: dict[tuple, Record] = {}
    for r in records:
        if is_baseline(r) or reported_apart(r) or r.matched_gap is None or variant(r) != r.setting:
            continue
        if off_language(r):  # answers nothing about the language: never named closest
            continue
        order = LANGUAGE_ORDER.index(r.language) if r.language in LANGUAGE_ORDER else 99
        key = (r.dataset, order, r.language, r.classifier_slug, r.samples_per_label)
        held = best.get(key)
        if held is None or (r.matched_gap, r.macro_f1, r.case_id) > (
            held.matched_gap,
            held.macro_f1,
            held.case_id,
        ):
            best[key] = r
    if not best:
        return None
    gold = _gold_index(records)
    lines = [SHORT_INTRO, ""]
    for key in sorted(best)[:MAX_SHORT_CELLS]:
        r = best[key]
        full = gold.get((r.dataset, r.language, r.classifier_slug, r.samples_per_label))
        chance = f"; chance is {100 / len(r.labels):.1f}" if r.labels else ""
        lines.append(
            f"- **{r.dataset} {r.language}** ({r.samples_per_label} per label, "
            f"{r.classifier_slug}): `{r.setting}` by {r.model} scores {r.macro_f1:.1f} "
            f"macro-F1 against {r.matched_gold_f1:.1f} for matched gold, a gap of "
            f"**{r.matched_gap:+.1f}** points, {_significance(r, marks)}"
            + (f"; full gold: {full:.1f}" if full is not None else "")
            + f"{chance}."
        )
    if len(best) > MAX_SHORT_CELLS:
        lines.append(f"- ... and {len(best) - MAX_SHORT_CELLS} more cells in answer 1 below.")
    return "\n".join(lines)


def dataset_table(records: list[Record], marks: dict[str, str]) -> str | None:
    """One macro-F1 table for one dataset: rows = (n, classifier, setting, model) of the gold
    rows and plain generated rows, columns = languages + mean; None if there are none."""
    plain = [r for r in records if not reported_apart(r) and variant(r) == r.setting]
    if not plain:
        return None
    df = case_frame(plain, marks)
    df["cell"] = [
        cell_text(f1, gap, matched, mark)
        for f1, gap, matched, mark in zip(
            df.f1, df.gap, df.matched_gap, df.matched_mark, strict=True
        )
    ]
    keys = ["n", "classifier", "gold", "variant", "model"]
    langs = language_order(df.language)
    table = df.pivot_table(index=keys, columns="language", values="cell", aggfunc="first")
    table = table.reindex(columns=langs)
    means = df.groupby(keys).f1.agg(["mean", "count"])
    table["mean"] = [
        f"{m:.1f}" + ("" if c == len(langs) else f" [{c}/{len(langs)}]")
        for m, c in zip(means["mean"], means["count"], strict=True)
    ]
    table = table.sort_index(key=lambda idx: ~idx if idx.name == "gold" else idx)
    table.index = table.index.droplevel("gold").rename(["n", "classifier", "setting", "model"])
    return markdown_table(table.rename_axis(columns=None), index=True)


def _page(title: str, purpose: str, written_by: str, sections: list[str], *, up: str) -> str:
    head = (
        f"# {title}\n\n{purpose} Part of [the leaderboard]({up}{MAIN}); {written_by}; "
        "do not edit by hand."
    )
    return "\n\n".join([head, *sections]).rstrip() + "\n"


def _links(pages: dict[str, str], datasets: list[str], n_old: int) -> str:
    links = []
    if datasets:
        per = ", ".join(f"[{d}]({DETAILS}/{d}.md)" for d in datasets)
        links.append(f"every table and case per dataset: {per}")
    names = {
        "generation.md": "generation counts and throughput",
        "quality.md": "quality of the generated data",
        "freeal.md": "FreeAL",
        "superseded.md": f"{n_old} superseded records",
    }
    links += [f"[{text}]({name})" for name, text in names.items() if name in pages]
    return "More: " + "; ".join(links) + "."


def render_pages(
    results_dir: Path,
    *,
    display: str | None = None,
    figures_dir: Path | None = None,
    command: str = "lowres-bench leaderboard",
    fold_rows: int = FOLD_ROWS,
) -> dict[str, str]:
    """LEADERBOARD.md and its linked pages as Markdown, by path relative to the output folder.

    Args:
        results_dir: folder of the records.
        display: the results path shown in the headers (default: `results_dir`).
        figures_dir: where figures go (None: no figures); a sibling of the pages' folder.
        command: the command named in the headers as the one that wrote the pages.
        fold_rows: tables with more rows are folded.
    """
    everything = read_records(results_dir)
    records = current(everything)
    old = [r for r in everything if is_superseded(r)]
    results = display or results_dir.as_posix()
    header = HEADER.format(command=command, n=len(everything), results=results)
    if not everything:
        return {MAIN: f"# Leaderboard\n\n{header}\n\nNo records yet.\n"}
    written_by = f"written by `{command}` from the records in `{results}`"
    marks = matched_marks(results_dir, records)
    datasets = sorted({r.dataset for r in records})
    pages: dict[str, str] = {}
    for dataset in datasets:
        rows = [r for r in records if r.dataset == dataset]
        sections = summary_tables(
            rows, figures_dir=figures_dir, fold_rows=fold_rows, marks=marks, figure_link="../"
        )
        sections.append(detail_table(rows, fold_rows=fold_rows, marks=marks))
        purpose = (
            f"Every {dataset} table: macro-F1 by classifier and size with figures, and every "
            "case with accuracy, seeds, sizes and timings (the case id is a row label's tooltip)."
        )
        pages[f"{DETAILS}/{dataset}.md"] = _page(
            f"{dataset}: all tables", purpose, written_by, sections, up="../"
        )
    side = {
        "generation.md": generation_table(records, fold_rows=fold_rows),
        "quality.md": quality_tables(records, fold_rows=fold_rows),
        "freeal.md": freeal_section(records, figures_dir=figures_dir),
        "superseded.md": superseded_section(old, fold_rows=fold_rows) if old else None,
    }
    for name, title, purpose in SIDE_PAGES:
        if side[name]:
            pages[name] = _page(title, purpose, written_by, [side[name]], up="")
    pages[MAIN] = _main_page(records, header, marks, pages, datasets, len(old), results_dir)
    return dict(sorted(pages.items()))


def _main_page(
    records: list[Record],
    header: str,
    marks: dict[str, str],
    pages: dict[str, str],
    datasets: list[str],
    n_old: int,
    results_dir: Path,
) -> str:
    parts = ["# Leaderboard"]
    arms = arm_rows(records, results_dir)  # the arms' bootstraps, once for both answers
    study = arms_short(arms)
    if study:
        parts.append(study)
    short = in_short(records, marks)
    if short:
        parts.append(short)
    parts += [header, _links(pages, datasets, n_old)]
    opening = summary_markdown(records, results_dir, arms)
    if opening.strip():
        parts.append(opening.strip())
    tables = []
    for dataset in datasets:
        table = dataset_table([r for r in records if r.dataset == dataset], marks)
        if table:
            link = f"[{dataset}: every table, figure and case]({DETAILS}/{dataset}.md)"
            tables.append(f"### {dataset}\n\n{table}\n\n{link}")
    if tables:
        intro = (
            "## Macro-F1 by dataset\n\nGold rows and plain generated rows (no selection, "
            "augmentation or gates: those are on the dataset pages), by samples per label and "
            "classifier; languages as columns."
        )
        parts += [intro, *tables]
    if n_old:
        parts.append(
            f"{n_old} superseded records (older semantics, never in these tables or the "
            "answers): [listed here](superseded.md)."
        )
    return "\n\n".join(parts).rstrip() + "\n"


def render(
    results_dir: Path,
    *,
    display: str | None = None,
    figures_dir: Path | None = None,
    command: str = "lowres-bench leaderboard",
    fold_rows: int = FOLD_ROWS,
) -> str:
    """LEADERBOARD.md alone as Markdown (arguments as in `render_pages`)."""
    return render_pages(
        results_dir,
        display=display,
        figures_dir=figures_dir,
        command=command,
        fold_rows=fold_rows,
    )[MAIN]


def display_path(results: Path) -> str:
    """`results` relative to the enclosing git repository (as `leaderboard/results`), else
    absolute: right wherever the reader stands."""
    resolved = results.resolve()
    for parent in resolved.parents:
        if (parent / ".git").exists():
            return resolved.relative_to(parent).as_posix()
    return resolved.as_posix()


def _stale_pages(out_dir: Path, pages: dict[str, Any]) -> list[Path]:
    """Pages this module wrote before that the records no longer call for."""
    managed = [out_dir / name for name, _, _ in SIDE_PAGES]
    managed += sorted((out_dir / DETAILS).glob("*.md"))
    return [p for p in managed if p.is_file() and p.relative_to(out_dir).as_posix() not in pages]


def write_leaderboard(out_dir: Path, *, command: str = "lowres-bench leaderboard") -> Path:
    """Rebuild `out_dir/LEADERBOARD.md` and its linked pages from `out_dir/results` (each
    replaced atomically; pages no longer called for are removed).

    Args:
        out_dir: folder holding `results/`; the pages and `figures/` are written there.
        command: the command named in the headers.

    Returns:
        The path of LEADERBOARD.md.
    """
    results = out_dir / "results"
    pages = render_pages(
        results, display=display_path(results), figures_dir=out_dir / "figures", command=command
    )
    for stale in _stale_pages(out_dir, pages):
        stale.unlink()
    for name, text in pages.items():
        write_text_atomic(out_dir / name, text)
    return out_dir / MAIN
