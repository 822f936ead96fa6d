from __future__ import annotations

import json
import multiprocessing
import os
import shutil

import pytest

from benchmark.case.records import read_records, record_path, write_json_atomic
from benchmark.report.leaderboard import display_path, render, write_leaderboard


def fake_record(case_id, *, dataset="sib200", language="sw", setting="gold", model=None, f1=50.0):
    return {
        "record_version": 2,
        "case_id": case_id,
        "spec_hash": "x",
        "status": "ok",
        "spec": {
            "dataset": dataset,
            "language": language,
            "setting": setting,
            "model": model,
            "samples_per_label": 100,
            "classifier_slug": "logreg_e5_small",
        },
        "scores": {
            "per_seed": [{"seed": 0, "macro_f1": f1, "accuracy": f1}],
            "macro_f1_mean": f1,
            "macro_f1_std": 1.25,
            "accuracy_mean": f1 + 1,
            "accuracy_std": 0.5,
        },
        "n_train": 700,
        "timings": {"fit_seconds_mean": 1.0, "total_seconds": 3.0},
    }


def test_atomic_write_leaves_old_file_when_serialisation_fails(tmp_path):
    path = tmp_path / "r.json"
    write_json_atomic(path, {"a": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temp files left


def test_atomic_write_survives_a_kill_mid_write(tmp_path, monkeypatch):
    """A writer killed before the rename leaves the previous record intact and readable."""
    path = tmp_path / "case.json"
    write_json_atomic(path, fake_record("case"))

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # stands in for a kill between write and rename

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write_json_atomic(path, fake_record("case", f1=99.0))
    monkeypatch.undo()
    assert read_records(tmp_path)[0].macro_f1 == 50.0


def _hammer(args):
    folder, worker = args
    for i in range(30):
        write_json_atomic(folder / "shared.json", {"worker": worker, "i": i, "pad": "x" * 20000})
    return worker


def test_parallel_writers_never_leave_a_torn_file(tmp_path):
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_hammer, [(tmp_path, w) for w in range(4)])
    payload = json.loads((tmp_path / "shared.json").read_text())
    assert payload["i"] == 29 and len(payload["pad"]) == 20000


def test_leaderboard_rebuild_is_identical_and_shows_gap(tmp_path):
    results = tmp_path / "leaderboard" / "results"
    stored = (
        fake_record("sib200-sw-gold", f1=70.0),
        fake_record("sib200-en-gold", language="en", f1=80.0),
        fake_record("sib200-sw-target_demos-m", setting="target_demos", model="m", f1=62.5),
    )
    for record in stored:
        write_json_atomic(record_path(results, record["case_id"]), record)
    board = tmp_path / "leaderboard"

    def pages() -> dict[str, str]:
        return {p.relative_to(board).as_posix(): p.read_text() for p in board.rglob("*.md")}

    first = write_leaderboard(board).read_text()
    first_pages = pages()
    second = write_leaderboard(board).read_text()
    assert first == second and pages() == first_pages  # linked pages too
    assert sorted(first_pages) == ["LEADERBOARD.md", "details/sib200.md"]
    assert "62.5 (-7.5)" in first  # gap to gold of the same dataset/language/classifier/n
    gold_row = next(line for line in first.splitlines() if " | gold | " in line)
    assert "80.0" in gold_row and "70.0" in gold_row and "75.0" in gold_row  # en, sw, mean
    # the order the files were written in does not matter (a file is named by its case id:
    # a copy under another name is refused, so only the writing order can change)
    shutil.rmtree(results)
    for record in sorted(stored, key=lambda r: r["case_id"], reverse=True):
        write_json_atomic(record_path(results, record["case_id"]), record)
    figures = tmp_path / "leaderboard" / "figures"
    assert render(results, display=display_path(results), figures_dir=figures) == first
    assert (figures / "f1_sib200_logreg_e5_small_n100.png").is_file()
    details = (tmp_path / "leaderboard" / "details" / "sib200.md").read_text()
    assert "![macro-F1 by language](../figures/f1_sib200_logreg_e5_small_n100.png)" in details


def test_leaderboard_ignores_temp_and_broken_files(tmp_path):
    write_json_atomic(record_path(tmp_path, "a"), fake_record("a"))
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / ".b.json.123.tmp").write_text("{}")
    assert [r.case_id for r in read_records(tmp_path)] == ["a"]


def test_record_reads_old_and_hand_made_records_with_the_fallbacks():
    from benchmark.case.records import Record

    old = Record.from_dict(
        {
            "case_id": "x",
            "spec": {"setting": "gold", "samples_per_label": 10},
            "scores": {"macro_f1_mean": 50.0, "macro_f1_std": 1.5},
            "generation": {"kept": 90, "sets": 3},
            "labels": ["a", "b", "c"],
        }
    )
    assert old.record_version == 1  # written before the field existed
    assert old.macro_f1_spread == 1.5  # no generation seeds: the classifier seeds' std
    assert old.matched_gap is None and old.matched_gold_f1 is None and not old.has_matched_gold
    assert old.kept_per_set == (30.0, 30)
    assert old.freeal_per_seed == [] and old.freeal_spec is None
    seeded = Record.from_dict(
        {"scores": {"macro_f1_std": 1.5, "macro_f1_std_over_generation_seeds": 4.0}}
    )
    assert seeded.macro_f1_spread == 4.0
    assert Record.from_dict({"spec": {"samples_per_label": 5}}).kept_per_set is None
