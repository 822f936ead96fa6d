from __future__ import annotations

import pytest

from benchmark.data.loaders import (
    DATASETS,
    SIB200_TOPICS,
    LeakageError,
    assert_disjoint_from_test,
    dataset_labels,
    load_split,
    refuse_test_examples,
    sample_per_label,
)
from benchmark.paths import DataDirError
from benchmark.registry import UnknownNameError


def test_missing_data_dir_says_where_it_looked(tmp_path):
    with pytest.raises(DataDirError, match=str(tmp_path / "nope")) as err:
        load_split("sib200", "sw", "train", data_dir=tmp_path / "nope")
    assert "--bench-data-dir" in str(err.value) and "BENCH_DATA_DIR" in str(err.value)


def test_the_dataset_registry_knows_the_study_sets_and_suggests_close_names():
    assert DATASETS.names()[:4] == ["massive10", "massive60", "sib200", "sentiment"]
    assert dataset_labels("sib200") == SIB200_TOPICS
    with pytest.raises(
        UnknownNameError, match="unknown dataset 'sib-200' \\(did you mean 'sib200'"
    ):
        load_split("sib-200", "sw", "train")


def test_language_codes_resolve_to_the_same_file(sib_fixture_dir):
    a = load_split("sib200", "sw", "train", data_dir=sib_fixture_dir)
    b = load_split("sib200", "swh_Latn", "train", data_dir=sib_fixture_dir)
    c = load_split("sib200", "sw-KE", "train", data_dir=sib_fixture_dir)
    assert a.examples == b.examples == c.examples
    assert a.fingerprint == b.fingerprint


def test_sampling_is_seeded_and_capped(sib_fixture_dir):
    train = load_split("sib200", "en", "train", data_dir=sib_fixture_dir)
    first = sample_per_label(train, 4, seed=1)
    assert first == sample_per_label(train, 4, seed=1)
    assert first != sample_per_label(train, 4, seed=2)
    capped = sample_per_label(train, 100, seed=0)
    assert len(capped) == len(train.examples)  # "up to n": small labels kept whole
    with pytest.raises(ValueError, match="100 requested"):
        sample_per_label(train, 100, seed=0, exact=True)


def test_test_split_can_never_be_sampled(sib_fixture_dir):
    test = load_split("sib200", "en", "test", data_dir=sib_fixture_dir)
    with pytest.raises(LeakageError):
        sample_per_label(test, 2, seed=0)
    with pytest.raises(LeakageError):
        refuse_test_examples(test.examples[:1], purpose="a prompt")


def test_shared_uid_with_test_is_refused(sib_fixture_dir):
    train = load_split("sib200", "en", "train", data_dir=sib_fixture_dir)
    test = load_split("sib200", "en", "test", data_dir=sib_fixture_dir)
    smuggled = [
        type(e)(text=e.text, label=e.label, uid=e.uid, split="train") for e in test.examples[:2]
    ]
    with pytest.raises(LeakageError):
        assert_disjoint_from_test([*train.examples[:3], *smuggled], test)


def test_real_data_gold_samples_never_contain_test_texts(shared_data_dir):
    """For every language, gold training samples share no uid with test, and any shared
    text is one the train split itself contains (MASSIVE repeats a few short utterances)."""
    for dataset in ("massive10", "sib200"):
        for code in ("en", "sw", "cy"):
            train = load_split(dataset, code, "train", data_dir=shared_data_dir)
            test = load_split(dataset, code, "test", data_dir=shared_data_dir)
            sample = sample_per_label(train, 100, seed=3)
            assert_disjoint_from_test(sample, test)
            train_texts = {e.text for e in train.examples}
            test_texts = {e.text for e in test.examples}
            assert {e.text for e in sample} & test_texts <= train_texts
            assert all(e.split == "train" for e in sample)


def test_real_data_counts(shared_data_dir):
    assert len(load_split("massive10", "de", "train", data_dir=shared_data_dir).examples) == 2027
    sib = load_split("sib200", "sw", "train", data_dir=shared_data_dir)
    assert sib.label_counts["geography"] == 58 and len(sib.examples) == 701
