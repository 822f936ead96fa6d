"""The leaderboard page: header, opening summary, short labels, folded tables, figures."""

from __future__ import annotations

import pytest

from benchmark.case.records import record_path, write_json_atomic
from benchmark.report.leaderboard import display_path, fmt_rate, render, write_leaderboard


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


def test_opening_summary_comes_right_after_the_header(results):
    text = render(results)
    parts = text.split("\n\n")
    assert parts[0] == "# Leaderboard" and parts[2] == "## Answers"


def test_tables_use_short_labels_and_fold_long_groups(results):
    text = render(results, fold_rows=4)
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
    text = render(results)
    row = next(line for line in text.splitlines() if line.startswith("| de · target_demos · "))
    assert "| 0.187 | 16.9 | 327 |" in row  # 61 / 327 samples/s, 5527 / 327 tokens/s
    assert fmt_rate(0.0612) == "0.0612" and fmt_rate(2545.38) == "2545" and fmt_rate(None) == ""


def test_figures_are_written_and_linked(results):
    text = write_leaderboard(results.parent).read_text()
    figures = results.parent / "figures"
    for name in ("f1_sib200_logreg_e5_small_n10.png", "gap_sib200_logreg_e5_small_n10.png"):
        assert (figures / name).stat().st_size > 10_000
        assert f"(figures/{name})" in text
