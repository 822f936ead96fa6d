"""The runner refuses training data that shares an example with the test split."""

from __future__ import annotations

import csv

import pytest

from benchmark.case.spec import CaseSpec
from benchmark.classifiers.embed_logreg import EmbedLogregSpec
from benchmark.context import RunContext
from benchmark.data.loaders import LeakageError
from benchmark.runner.run import run_case


def gold_spec(n: int) -> CaseSpec:
    return CaseSpec(
        dataset="sib200",
        language="sw",
        setting="gold",
        model=None,
        samples_per_label=n,
        gold_sampling="at_most",
        seeds=(0,),
        classifier=EmbedLogregSpec(encoder="tiny-random").model_dump(),
        generation=None,
    )


def test_a_test_example_in_the_train_file_fails_the_case(tmp_path, sib_fixture_dir):
    data = tmp_path / "data"
    (data / "sib200").mkdir(parents=True)
    for split in ("train", "dev", "test"):
        src = sib_fixture_dir / "sib200" / f"swh_Latn_{split}.tsv"
        (data / "sib200" / src.name).write_bytes(src.read_bytes())
    test_rows = list(csv.reader((data / "sib200" / "swh_Latn_test.tsv").open(), delimiter="\t"))
    with (data / "sib200" / "swh_Latn_train.tsv").open("a", newline="") as handle:
        csv.writer(handle, delimiter="\t").writerow(test_rows[1])  # a test row, same uid
    ctx = RunContext(results_dir=tmp_path / "results", data_dir=data, figures=False)
    with pytest.raises(LeakageError, match="test examples"):
        run_case(gold_spec(n=50), ctx)  # n above every label's size: every train row is used
    assert not (tmp_path / "results" / f"{gold_spec(50).case_id}.json").exists()


def test_clean_data_runs(tmp_path, sib_fixture_dir):
    ctx = RunContext(results_dir=tmp_path / "results", data_dir=sib_fixture_dir, figures=False)
    assert run_case(gold_spec(n=50), ctx)["status"] == "ok"
