"""`lowres-bench compare`: the paired bootstrap of two records, or of one against its matched
gold control, with short errors for names that do not pick one record."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from benchmark.cli import main
from tests.report.test_summary import LABELS, freeal_record, predictions, write_case


def write(results, setting, accuracy, matched, rng, gold, *, stored=True):
    record = write_case(results, setting, accuracy, matched, rng, gold)
    record.update(n_train=40, timings={"fit_seconds_mean": 1.0, "total_seconds": 1.0})
    record["scores"].update(per_seed=[], accuracy_mean=0.0, accuracy_std=0.0)
    if not stored:
        record.pop("predictions")
    (results / f"{record['case_id']}.json").write_text(json.dumps(record))
    return record["case_id"]


@pytest.fixture
def board(tmp_path):
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 4, 300)
    results = tmp_path / "results"
    results.mkdir()
    write(results, "target_demos_revision", 0.9, 0.9, rng, gold)
    write(results, "target_demos", 0.5, 0.92, rng, gold)
    write(results, "target_demos_sl", 0.52, 0.9, rng, gold, stored=False)
    return tmp_path


def test_a_large_difference_is_significant_and_a_case_against_its_control(board, capsys):
    assert (
        main(["compare", "de-target_demos_revision-", "de-target_demos-", "--out", str(board)]) == 0
    )
    said = capsys.readouterr().out
    assert difference(said, "A - B") > 20 and "(significant," in said
    main(["compare", "sib200-de-target_demos-m-n10", "--out", str(board)])
    said = capsys.readouterr().out
    assert difference(said, "A - its matched gold control") < -20 and "(significant," in said
    main(["compare", "de-target_demos_revision-", "--out", str(board)])  # the same accuracy
    said = capsys.readouterr().out
    assert abs(difference(said, "A - its matched gold control")) < 5 and "within noise" in said


def difference(said: str, what: str) -> float:
    return float(re.search(rf"{what}: ([-+][0-9.]+) macro-F1", said).group(1))


def test_names_that_pick_no_single_usable_record_fail_in_one_line(board):
    for args, expected in (
        (["target_demos"], "matches 3 records; give more of the case id"),
        (["nowhere"], "no record in"),
        (["de-target_demos_sl-", "de-target_demos-"], "has no stored test predictions"),
    ):
        with pytest.raises(SystemExit) as err:
            main(["compare", *args, "--out", str(board)])
        assert expected in str(err.value)


def write_freeal(tmp_path, *, demos="gold"):
    """A FreeAL record with stored predictions (and the same-budget gold when demos are gold)."""
    rng = np.random.default_rng(5)
    gold = rng.integers(0, 4, 300)
    record = freeal_record("reference", 30.0, 90.0)
    record["spec"]["freeal"]["demo_source"] = demos
    record.update(n_train=100, timings={"fit_seconds_mean": 1.0, "total_seconds": 1.0})
    record["scores"].update(per_seed=[], accuracy_mean=0.0, accuracy_std=0.0)
    folder = tmp_path / "results" / record["case_id"]
    folder.mkdir(parents=True)
    stored = {"labels": LABELS, "test": "t", "gold": gold.tolist()}
    stored["runs"] = predictions(gold, 0.3, rng)
    if demos == "gold":
        stored["matched_gold"] = predictions(gold, 0.9, rng)
    (folder / "predictions.json").write_text(json.dumps(stored))
    record["predictions"] = f"{record['case_id']}/predictions.json"
    (folder.parent / f"{record['case_id']}.json").write_text(json.dumps(record))


def test_a_freeal_case_is_compared_with_gold_at_its_labelled_budget(tmp_path, capsys):
    write_freeal(tmp_path)
    assert main(["compare", "freeal", "--out", str(tmp_path)]) == 0
    said = capsys.readouterr().out
    assert difference(said, "A - gold at the same labelled budget") < -40


def test_a_freeal_case_without_gold_demos_says_there_is_no_budget_to_match(tmp_path):
    write_freeal(tmp_path, demos="none")
    with pytest.raises(SystemExit) as err:
        main(["compare", "freeal", "--out", str(tmp_path)])
    assert "spent no gold demos (demos: none)" in str(err.value)
