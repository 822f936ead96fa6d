"""Bad configuration is an error that names the file, the key, what was expected and close matches."""

from __future__ import annotations

import textwrap

import pytest

from benchmark.case.spec import TaskFileError
from benchmark.runner.taskfile import load_cases

GOOD = """
datasets: [sib200]
languages: [sw, en]
settings: [gold]
samples_per_label: 4
seeds: 2
classifiers: [embed-logreg]
"""


def write(tmp_path, text: str):
    path = tmp_path / "task.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def error_for(tmp_path, text, data_dir) -> str:
    path = write(tmp_path, text)
    with pytest.raises(TaskFileError) as err:
        load_cases(path, data_dir=data_dir)
    message = str(err.value)
    assert str(path) in message
    return message


def test_good_file_expands_matrix(tmp_path, sib_fixture_dir):
    cases = load_cases(write(tmp_path, GOOD), data_dir=sib_fixture_dir)
    assert [c.case_id for c in cases] == [
        "sib200-sw-gold-n4-logreg_e5_small",
        "sib200-en-gold-n4-logreg_e5_small",
    ]
    assert cases[0].seeds == (0, 1)
    assert cases[0].model is None


def test_case_ids_are_stable_and_accept_dataset_codes(tmp_path, sib_fixture_dir):
    a = load_cases(write(tmp_path, GOOD), data_dir=sib_fixture_dir)
    b = load_cases(
        write(tmp_path, GOOD.replace("[sw, en]", "[swh_Latn, eng_Latn]")), data_dir=sib_fixture_dir
    )
    assert [c.case_id for c in a] == [c.case_id for c in b]
    assert [c.spec_hash for c in a] == [c.spec_hash for c in b]


def test_unknown_key_suggests_close_match(tmp_path, sib_fixture_dir):
    message = error_for(tmp_path, GOOD + "sampels_per_label: 3\n", sib_fixture_dir)
    assert "unknown key 'sampels_per_label'" in message
    assert "did you mean 'samples_per_label'" in message


def test_unknown_nested_key(tmp_path, sib_fixture_dir):
    text = GOOD.replace(
        "classifiers: [embed-logreg]", "classifiers:\n  - name: finetune\n    learning_rate: 0.1"
    )
    message = error_for(tmp_path, text, sib_fixture_dir)
    assert "classifiers[0]" in message and "'learning_rate'" in message
    assert "known keys" in message and "lr" in message


def test_wrong_type(tmp_path, sib_fixture_dir):
    message = error_for(
        tmp_path, GOOD.replace("samples_per_label: 4", "samples_per_label: many"), sib_fixture_dir
    )
    assert "samples_per_label" in message and "integer" in message and "'many'" in message


def test_unknown_dataset(tmp_path, sib_fixture_dir):
    message = error_for(tmp_path, GOOD.replace("[sib200]", "[sib-200]"), sib_fixture_dir)
    assert (
        "datasets[0]" in message and "'sib-200'" in message and "did you mean 'sib200'" in message
    )


def test_language_the_dataset_lacks(tmp_path, sib_fixture_dir):
    message = error_for(tmp_path, GOOD.replace("[sw, en]", "[sw, fr]"), sib_fixture_dir)
    assert "languages[1]" in message and "'fr'" in message


def test_unknown_setting(tmp_path, sib_fixture_dir):
    message = error_for(tmp_path, GOOD.replace("[gold]", "[target_demo]"), sib_fixture_dir)
    assert "settings[0]" in message and "did you mean 'target_demos'" in message


def test_unknown_model_alias(tmp_path, sib_fixture_dir):
    text = GOOD.replace("[gold]", "[target_demos]") + "models: [smolm2-135m]\n"
    message = error_for(tmp_path, text, sib_fixture_dir)
    assert "models[0]" in message and "did you mean 'smollm2-135m'" in message


def test_generated_setting_needs_a_model(tmp_path, sib_fixture_dir):
    message = error_for(tmp_path, GOOD.replace("[gold]", "[target_demos]"), sib_fixture_dir)
    assert "models" in message and "at least one model" in message


def test_unknown_classifier(tmp_path, sib_fixture_dir):
    message = error_for(tmp_path, GOOD.replace("[embed-logreg]", "[embed-logres]"), sib_fixture_dir)
    assert "classifiers[0]" in message and "did you mean 'embed-logreg'" in message


def test_unknown_encoder(tmp_path, sib_fixture_dir):
    text = GOOD.replace("[embed-logreg]", "[{name: embed-logreg, encoder: e5-smal}]")
    message = error_for(tmp_path, text, sib_fixture_dir)
    assert "classifiers[0].encoder" in message and "did you mean 'e5-small'" in message


def test_samples_per_label_larger_than_data(tmp_path, sib_fixture_dir):
    message = error_for(
        tmp_path, GOOD.replace("samples_per_label: 4", "samples_per_label: 50"), sib_fixture_dir
    )
    assert "samples_per_label" in message and "largest: 6" in message


def test_exact_sampling_needs_enough_per_label(tmp_path, sib_fixture_dir):
    text = GOOD.replace("samples_per_label: 4", "samples_per_label: 5") + "gold_sampling: exact\n"
    assert load_cases(write(tmp_path, text), data_dir=sib_fixture_dir)  # 6 per label: fine
    message = error_for(
        tmp_path, text.replace("samples_per_label: 5", "samples_per_label: 7"), sib_fixture_dir
    )
    assert "gold_sampling: exact" in message


def test_yaml_syntax_error_names_line(tmp_path, sib_fixture_dir):
    message = error_for(tmp_path, "datasets: [sib200\nlanguages: [sw]\n", sib_fixture_dir)
    assert "invalid YAML" in message and "line" in message


def test_collection_error_in_pytest_output(pytester, sib_fixture_dir):
    (pytester.path / "tasks").mkdir()
    (pytester.path / "tasks" / "bad.yaml").write_text(GOOD + "sampels_per_label: 3\n")
    result = pytester.runpytest_subprocess(
        "--collect-only", "-q", "tasks", f"--bench-data-dir={sib_fixture_dir}"
    )
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        ["*bad.yaml: sampels_per_label: unknown key*did you mean 'samples_per_label'*"]
    )
    assert "Traceback" not in result.stdout.str()


def test_selection_axis_expands_generated_settings_only(tmp_path, sib_fixture_dir):
    text = (
        GOOD.replace("[gold]", "[gold, target_demos]")
        + "models: [tiny-random]\nselections: [none, kcenter]\ngeneration: {demos_per_label: 2}\n"
    )
    ids = [c.case_id for c in load_cases(write(tmp_path, text), data_dir=sib_fixture_dir)]
    assert "sib200-sw-target_demos-tiny_random-n4-sel_kcenter-logreg_e5_small" in ids
    assert "sib200-sw-target_demos-tiny_random-n4-logreg_e5_small" in ids
    assert sum("gold" in i for i in ids) == 2  # gold is never selected


def test_unknown_selection(tmp_path, sib_fixture_dir):
    text = (
        GOOD.replace("[gold]", "[target_demos]") + "models: [tiny-random]\nselections: [kcentre]\n"
    )
    message = error_for(tmp_path, text, sib_fixture_dir)
    assert "selections[0]" in message and "did you mean 'kcenter'" in message


def test_augmentation_axis(tmp_path, sib_fixture_dir):
    text = (
        GOOD.replace("[gold]", "[gold, target_demos]")
        + "models: [tiny-random]\naugmentations: [none, eda, paraphrase]\ngeneration: {demos_per_label: 2}\n"
    )
    ids = [c.case_id for c in load_cases(write(tmp_path, text), data_dir=sib_fixture_dir)]
    assert "sib200-sw-gold-n4-aug_eda-logreg_e5_small" in ids
    assert "sib200-sw-target_demos-tiny_random-n4-aug_paraphrase-logreg_e5_small" in ids
    assert not any("gold" in i and "paraphrase" in i for i in ids)  # LLM augmentation needs a model
    message = error_for(tmp_path, GOOD + "augmentations: [edа]\n", sib_fixture_dir)
    assert "augmentations[0]" in message


FREEAL = """
datasets: [sib200]
languages: [sw]
settings: [freeal]
models: [tiny-random]
samples_per_label: 2
seeds: 1
freeal:
  pool_size: 10
  demo_sources: [gold, none, target_demos]
  clean_selection: [reference, class_balanced]
"""


def test_freeal_axes_expand_into_cases(tmp_path, sib_fixture_dir):
    cases = load_cases(write(tmp_path, FREEAL), data_dir=sib_fixture_dir)
    assert len(cases) == 6
    assert cases[0].case_id == (
        "sib200-sw-freeal-tiny_random-n2-pool10-demos_gold-clean_reference"
        "-cons_backtranslation-logreg_e5_small"
    )
    assert {c.freeal.demo_source for c in cases} == {"gold", "none", "target_demos"}
    assert len({c.spec_hash for c in cases}) == 6


def test_freeal_unknown_demo_source_and_key(tmp_path, sib_fixture_dir):
    message = error_for(tmp_path, FREEAL.replace("none,", "nothing,"), sib_fixture_dir)
    assert "freeal.demo_sources[1]" in message and "unknown demo source 'nothing'" in message
    message = error_for(tmp_path, FREEAL + "  pool_sise: 3\n", sib_fixture_dir)
    assert "freeal.pool_sise" in message and "did you mean 'pool_size'" in message


def test_freeal_pool_larger_than_train_is_an_error(tmp_path, sib_fixture_dir):
    message = error_for(
        tmp_path, FREEAL.replace("pool_size: 10", "pool_size: 100000"), sib_fixture_dir
    )
    assert "freeal.pool_size" in message and "train has only" in message


def test_freeal_needs_a_model(tmp_path, sib_fixture_dir):
    message = error_for(tmp_path, FREEAL.replace("models: [tiny-random]\n", ""), sib_fixture_dir)
    assert "models" in message and "freeal" in message
