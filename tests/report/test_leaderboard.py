"""The leaderboard: a short LEADERBOARD.md (in short, answers, one table per dataset, links)
and its linked pages (per-dataset details, generation, quality, FreeAL, superseded records)."""

from __future__ import annotations

import json

import pytest

from benchmark.case.records import record_path, write_json_atomic
from benchmark.report.leaderboard import (
    display_path,
    fmt_rate,
    render,
    render_pages,
    write_leaderboard,
)


def record(language, setting="gold", model=None, f1=50.0, *, n=10, generation=None):
    slug = "logreg_e5_small"
    case_id = "-".join(
        x
        for x in ("sib200", language, setting, model and model.replace("-", "_"), f"n{n}", slug)
        if x
    )
    return {
        "record_version": 2,
        "case_id": case_id,
        "status": "ok",
        "spec": {
            "dataset": "sib200",
            "language": language,
            "setting": setting,
            "model": model,
            "samples_per_label": n,
            "classifier_slug": slug,
            "selection": None,
            "augmentation": None,
        },
        "scores": {
            "per_seed": [{"seed": 0}, {"seed": 1}],
            "macro_f1_mean": f1,
            "macro_f1_std": 2.0,
            "accuracy_mean": f1 + 1,
            "accuracy_std": 1.0,
        },
        "n_train": 70,
        "timings": {"fit_seconds_mean": 1.0, "total_seconds": 3.0},
        "generation": generation,
    }


def generation(seconds=327.0, kept=61):
    per_label = {f"l{i}": {"kept": 10 if i else 1, "duplicate": 0} for i in range(7)}
    stats = {"requests": 26, "seconds": seconds}
    return {
        "per_label": per_label,
        "short_labels": ["l0"],
        "demo_copies": 0,
        "rejected": 0,
        "stats": stats,
        "cache_hits": 0,
        "samples_per_second": kept / seconds,
        "tokens_per_second": 5527 / seconds,
    }


SETTINGS = ["target_demos", "target_demos_sl", "summarised_label", "english_demos_sl"]


@pytest.fixture
def results(tmp_path):
    folder = tmp_path / "out" / "results"
    rows = [record(code, f1=70.0 + i) for i, code in enumerate(("de", "sw", "cy"))]
    rows += [
        record(code, setting, "smollm2-135m", f1=10.0 + i, generation=generation())
        for i, setting in enumerate(SETTINGS)
        for code in ("de", "sw", "cy")
    ]
    for r in rows:
        write_json_atomic(record_path(folder, r["case_id"]), r)
    return folder


def test_header_names_the_command_and_a_path_that_exists(results, monkeypatch, tmp_path):
    path = write_leaderboard(results.parent, command="lowres-bench run")
    head = path.read_text().split("\n\n")[1]
    assert head.startswith("Written by `lowres-bench run` from 15 result records in ")
    shown = head.split("records in `", 1)[1].split("`", 1)[0]
    assert shown == results.resolve().as_posix()  # not inside a git repository: absolute
    (tmp_path / ".git").mkdir()
    assert display_path(results) == "out/results"  # inside one: repository-relative


def test_opening_summary_comes_right_after_the_header_and_links(results):
    text = render(results)
    parts = text.split("\n\n")
    assert parts[0] == "# Leaderboard" and parts[1].startswith("Written by ")
    assert parts[2].startswith(
        "More: every table and case per dataset: [sib200](details/sib200.md)"
    )
    assert "[generation counts and throughput](generation.md)" in parts[2]
    assert parts[3] == "## Answers"


def test_main_page_has_one_table_per_dataset_and_links_the_rest(results):
    text = render(results)
    tables = text.split("## Macro-F1 by dataset", 1)[1]
    assert tables.count("### ") == 1 and "### sib200" in tables
    gold = next(line for line in tables.splitlines() if " | gold | " in line)
    assert gold == "| 10 | logreg_e5_small | gold | - | 70.0 | 71.0 | 72.0 | 71.0 |"
    assert "[sib200: every table, figure and case](details/sib200.md)" in tables
    assert "sib200-sw-target_demos-smollm2_135m-n10-logreg_e5_small" not in text  # details only
    assert "## All cases" not in text and "## Generation" not in text


def test_in_short_states_the_gap_to_matched_gold_and_what_it_means(results):
    case = "sib200-de-target_demos-smollm2_135m-n10-logreg_e5_small"
    path = record_path(results, case)
    payload = json.loads(path.read_text())
    payload["labels"] = [f"l{i}" for i in range(7)]
    payload["matched_gold"] = {"scores": {"macro_f1_mean": 74.0}, "gap_macro_f1": -64.0}
    payload["quality"] = {"language_fidelity": 0.98}
    write_json_atomic(path, payload)
    text = render(results)
    assert text.split("\n\n")[1].startswith("**In short.** The closest generated training set")
    assert "0 would mean the generated data is as good as real data" in text
    line = next(x for x in text.splitlines() if x.startswith("- **sib200 de**"))
    assert line == (
        "- **sib200 de** (10 per label, logreg_e5_small): `target_demos` by smollm2-135m scores "
        "10.0 macro-F1 against 74.0 for matched gold, a gap of **-64.0** points, not tested "
        "(no stored predictions); full gold: 70.0; chance is 14.3."
    )


def test_superseded_records_get_one_line_and_their_own_page(results):
    old = record("en", f1=40.0, generation=generation()) | {"record_version": 1}
    old["case_id"] = "sib200-en-target_demos-old-n10-logreg_e5_small"
    old["spec"] = old["spec"] | {"setting": "target_demos", "model": "old"}
    write_json_atomic(record_path(results, old["case_id"]), old)
    pages = render_pages(results)
    line = next(x for x in pages["LEADERBOARD.md"].splitlines() if "superseded records (" in x)
    assert line.endswith("[listed here](superseded.md).")
    assert old["case_id"] in pages["superseded.md"]
    assert old["case_id"] not in pages["details/sib200.md"]


def test_stale_pages_are_removed_and_others_left_alone(results):
    board = results.parent
    (board / "details").mkdir()
    (board / "details" / "gone.md").write_text("old dataset\n")
    (board / "freeal.md").write_text("no FreeAL record any more\n")
    (board / "notes.md").write_text("not ours\n")
    write_leaderboard(board)
    assert sorted(p.name for p in (board / "details").iterdir()) == ["sib200.md"]
    assert not (board / "freeal.md").exists() and (board / "notes.md").is_file()
    assert (board / "generation.md").is_file()


def test_tables_use_short_labels_and_fold_long_groups(results):
    text = render_pages(results, fold_rows=4)["details/sib200.md"]
    case_id = "sib200-sw-target_demos-smollm2_135m-n10-logreg_e5_small"
    assert f'<span title="{case_id}">sw · target_demos · smollm2-135m</span>' in text
    assert text.count(case_id) == 1  # only as the tooltip of the all-cases row
    assert "<details><summary>15 cases</summary>" in text
    assert "<details><summary>table: 5 settings x 3 languages</summary>" in text
    assert "|---|---|---:|---:|---:|---:|" in text  # compact, numbers right-aligned
    assert "   " not in text  # no padding
    pivot = text.split("### sib200 · logreg_e5_small · n=10 per label")[1]
    gold = next(line for line in pivot.splitlines() if line.startswith("| gold "))
    assert gold == "| gold | - | 70.0 | 71.0 | 72.0 | 71.0 |"  # de, sw, cy in study order, mean
    assert "| target_demos | smollm2-135m | 10.0 (-60.0) | 10.0 (-61.0) | 10.0 (-62.0) |" in pivot


def test_throughput_keeps_three_significant_digits(results):
    text = render_pages(results)["generation.md"]
    row = next(line for line in text.splitlines() if line.startswith("| de · target_demos · "))
    assert "| 0.187 | 16.9 | 327 |" in row  # 61 / 327 samples/s, 5527 / 327 tokens/s
    assert fmt_rate(0.0612) == "0.0612" and fmt_rate(2545.38) == "2545" and fmt_rate(None) == ""


def test_figures_are_written_and_linked(results):
    write_leaderboard(results.parent)
    text = (results.parent / "details" / "sib200.md").read_text()
    figures = results.parent / "figures"
    for name in ("f1_sib200_logreg_e5_small_n10.png", "gap_sib200_logreg_e5_small_n10.png"):
        assert (figures / name).stat().st_size > 10_000
        assert f"(../figures/{name})" in text
