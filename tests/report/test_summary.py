"""The leaderboard's opening answers: best strategy vs matched gold, effects with marks."""

from __future__ import annotations

import json

import numpy as np

from benchmark.report.summary import is_superseded, summary_markdown

LABELS = ["a", "b", "c", "d"]


def predictions(gold, accuracy, rng, seeds=(0, 1, 2)):
    runs = []
    for g in seeds:
        predicted = gold.copy()
        flip = rng.random(len(gold)) > accuracy
        predicted[flip] = rng.integers(0, len(LABELS), flip.sum())
        runs.append({"generation_seed": g, "seed": 0, "predicted": predicted.tolist()})
    return runs


def write_case(results, setting, accuracy, matched_accuracy, rng, gold, *, selection=None):
    case_id = f"sib200-de-{setting}-m-n10{'-' + selection if selection else ''}"
    runs = predictions(gold, accuracy, rng)
    matched = predictions(gold, matched_accuracy, rng)
    (results / case_id).mkdir(parents=True)
    stored = {"labels": LABELS, "test": "t", "gold": gold.tolist(), "runs": runs}
    stored["matched_gold"] = matched
    (results / case_id / "predictions.json").write_text(json.dumps(stored))
    f1 = 100 * accuracy
    record = {
        "record_version": 2,
        "case_id": case_id,
        "labels": LABELS,
        "spec": {
            "dataset": "sib200",
            "language": "de",
            "setting": setting,
            "model": "m",
            "samples_per_label": 10,
            "classifier_slug": "logreg_e5_small",
            "selection": {"method": selection} if selection else None,
            "augmentation": None,
        },
        "scores": {
            "macro_f1_mean": f1,
            "macro_f1_std": 1.0,
            "macro_f1_std_over_generation_seeds": 2.0,
        },
        "matched_gold": {
            "scores": {"macro_f1_mean": 100 * matched_accuracy},
            "gap_macro_f1": f1 - 100 * matched_accuracy,
        },
        "generation": {"kept": 120, "sets": 3},
        "predictions": f"{case_id}/predictions.json",
    }
    return record


def test_summary_names_the_best_strategy_and_marks_real_differences(tmp_path):
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 4, 300)
    records = [
        write_case(tmp_path, "target_demos_revision", 0.85, 0.9, rng, gold),
        write_case(tmp_path, "target_demos", 0.5, 0.9, rng, gold),
        write_case(tmp_path, "target_demos", 0.51, 0.9, rng, gold, selection="kcenter"),
    ]
    text = summary_markdown(records, tmp_path)
    best_row = next(line for line in text.splitlines() if "| sib200 | de |" in line)
    assert "target_demos_revision" in best_row.split("|")[5]
    assert "*" in best_row.split("|")[-2]  # clearly better than the runner-up
    revision = next(line for line in text.splitlines() if line.startswith("| revision"))
    assert "1 / 0 of 1" in revision
    selection = next(line for line in text.splitlines() if line.startswith("| selection: kcenter"))
    assert "0 / 0 of 1" in selection  # one point apart: noise
    answer2 = text.split("**2. Does revision help?**")[1].split("**3.")[0]
    assert "significant gains: target_demos_revision vs target_demos (+" in answer2
    assert (
        "; significant in 1 of 1 cell after correction)" in answer2
    )  # how many cells carry the gain
    answer3 = text.split("**3. Does selection help?**")[1].split("**4.")[0]
    assert "significant gains: none" in answer3 and "within noise: kcenter (" in answer3


def test_old_generated_records_are_superseded_but_gold_is_not():
    old = {"record_version": 1, "spec": {"setting": "target_demos"}}
    gold = {"record_version": 1, "spec": {"setting": "gold"}}
    assert is_superseded(old) and not is_superseded(gold)
    assert summary_markdown([old]) == ""


def test_old_augmented_gold_records_are_superseded():
    old_aug = {"record_version": 1, "spec": {"setting": "gold", "augmentation": {"method": "eda"}}}
    assert is_superseded(old_aug)


def test_a_question_without_current_rows_says_it_is_not_measured(tmp_path):
    rng = np.random.default_rng(1)
    gold = rng.integers(0, 4, 200)
    text = summary_markdown([write_case(tmp_path, "target_demos", 0.6, 0.8, rng, gold)], tmp_path)
    augmentation = text.split("**4. Does augmentation help?**")[1].split("**5.")[0]
    assert "Not measured with the current semantics yet" in augmentation
    selection = text.split("**3. Does selection help?**")[1].split("**4.")[0]
    assert "Not measured" in selection


def freeal_record(clean: str, f1: float, budget: float) -> dict:
    per_seed = [{"seed": s, "same_budget_reference": {"macro_f1": budget}} for s in range(3)]
    return {
        "record_version": 2,
        "case_id": f"sib200-de-freeal-m-{clean}",
        "labels": LABELS,
        "spec": {
            "dataset": "sib200",
            "language": "de",
            "setting": "freeal",
            "model": "m",
            "samples_per_label": 20,
            "classifier_slug": "logreg_e5_small",
            "freeal": {
                "demo_source": "gold",
                "clean_selection": clean,
                "consistency": "backtranslation",
            },
        },
        "scores": {"macro_f1_mean": f1, "macro_f1_std": 1.0},
        "freeal": {"per_seed": per_seed},
    }


def test_freeal_answer_names_the_run_closest_to_gold_at_the_same_budget():
    records = [freeal_record("reference", 2.4, 80.4), freeal_record("class_balanced", 30.0, 80.4)]
    answer = summary_markdown(records).split("**6. FreeAL")[1]
    assert "2 FreeAL runs; the closest" in answer
    assert "class_balanced clean selection, backtranslation consistency" in answer
    assert "-50.4" in answer
    row = "| sib200 | de | m | gold | reference | backtranslation | none | 2.4 ± 1.0 | 80.4 | -78.0? |"
    assert row in answer
    assert "`?`: not tested" in answer  # records without stored predictions are flagged


def test_a_freeal_run_without_gold_demos_has_no_same_budget_gap():
    zero_shot = freeal_record("reference", 60.0, 0.0)
    zero_shot["case_id"] += "-demos_none"
    zero_shot["spec"]["freeal"]["demo_source"] = "none"
    for seed in zero_shot["freeal"]["per_seed"]:
        seed["same_budget_reference"] = None
    answer = summary_markdown([zero_shot, freeal_record("reference", 2.4, 80.4)])
    answer = answer.split("**6. FreeAL")[1]
    assert (
        "| none | reference | backtranslation | none | 60.0 ± 1.0 | no gold demos | - |" in answer
    )
    assert "closest to gold at the same labelled budget is sib200 de" in answer
    assert "2.4 ± 1.0 against 80.4" in answer  # not the higher run that has no gap


def test_freeal_gap_is_marked_from_stored_predictions(tmp_path):
    """A FreeAL record's predictions.json (seeds as generated sets, the same-budget reference
    as matched gold) gives the gap its paired-bootstrap mark."""
    rng = np.random.default_rng(2)
    gold = rng.integers(0, 4, 300)
    records = []
    for clean, accuracy, budget in (("reference", 0.3, 0.9), ("class_balanced", 0.88, 0.9)):
        record = freeal_record(clean, 100 * accuracy, 100 * budget)
        folder = tmp_path / record["case_id"]
        folder.mkdir()
        stored = {"labels": LABELS, "test": "t", "gold": gold.tolist()}
        stored["runs"] = predictions(gold, accuracy, rng)
        stored["matched_gold"] = predictions(gold, budget, rng)
        (folder / "predictions.json").write_text(json.dumps(stored))
        record["predictions"] = f"{record['case_id']}/predictions.json"
        records.append(record)
    answer = summary_markdown(records, tmp_path).split("**6. FreeAL")[1]
    assert "| 30.0 ± 1.0 | 90.0 | -60.0* |" in answer  # far below its control
    assert "| 88.0 ± 1.0 | 90.0 | -2.0 |" in answer  # within the noise of 3 seeds


def test_strategies_and_selectors_are_compared_with_each_other(tmp_path):
    rng = np.random.default_rng(4)
    gold = rng.integers(0, 4, 300)
    records = [
        write_case(tmp_path, "target_demos_revision", 0.85, 0.9, rng, gold),
        write_case(tmp_path, "target_demos", 0.5, 0.9, rng, gold),
        write_case(tmp_path, "target_demos_sl", 0.51, 0.9, rng, gold),
        write_case(tmp_path, "target_demos", 0.6, 0.9, rng, gold, selection="kcenter"),
    ]
    text = summary_markdown(records, tmp_path).split("against the others")[1]
    rows = [line for line in text.splitlines() if line.startswith("| 1 |")]
    strategies, selectors = rows
    # best strategy first, clearly above both others; the two weak ones within noise; its -4.2
    # against matched gold (p ~ 0.02) does not survive Holm over the matrix's 6 tests
    assert "target_demos_revision" in strategies and strategies.count("*") == 2
    assert "| -4.2 |" in strategies
    second = next(line for line in text.splitlines() if line.startswith("| 2 | target_demos_sl"))
    assert second.split("|")[-2].strip() and "*" not in second.split("|")[-2]
    assert "kcenter" in selectors and "unselected" in text


def test_matched_gaps_carry_their_marks_in_the_tables(tmp_path):
    from benchmark.case.records import as_record
    from benchmark.report.leaderboard import cell_text, detail_table
    from benchmark.report.significance import matched_marks

    rng = np.random.default_rng(5)
    gold = rng.integers(0, 4, 300)
    far = write_case(tmp_path, "target_demos", 0.5, 0.9, rng, gold)
    near = write_case(tmp_path, "target_demos_sl", 0.9, 0.9, rng, gold)
    for r in (far, near):
        r["matched_gold"]["train_label_counts"] = {label: 10 for label in LABELS}
        r["scores"].update(accuracy_mean=50.0, accuracy_std=1.0, per_seed=[{"seed": 0}])
        r["timings"] = {"fit_seconds_mean": 1.0, "total_seconds": 3.0}
        r["n_train"] = 40
    marks = matched_marks(tmp_path, [far, near])
    assert marks == {far["case_id"]: "*", near["case_id"]: ""}
    assert cell_text(50.0, -30.0, -40.0, "*") == "50.0 (-30.0 / -40.0*)"
    table = detail_table([as_record(far)], marks=marks)
    assert "-40.0* |" in table


def test_freeal_options_are_paired_and_refinement_rounds_counted(tmp_path):
    """Runs that differ only in calibration form a pair with a bootstrap mark; a run that differs
    in two options pairs with neither; each seed's final model is set against its round 0."""
    rng = np.random.default_rng(5)
    gold = rng.integers(0, 4, 300)
    records = []
    for name, calibration, clean, consistency, accuracy in (
        ("cal", "batch", "class_balanced", "backtranslation", 0.8),
        ("uncal", "none", "class_balanced", "backtranslation", 0.3),
        # differs from "uncal" in clean selection and consistency, from "cal" in three: no pair
        ("other", "none", "reference", "paraphrase", 0.5),
    ):
        record = freeal_record(clean, 100 * accuracy, 90.0)
        record["case_id"] += f"-{name}"
        record["spec"]["freeal"].update(calibration=calibration, consistency=consistency)
        for s, seed in enumerate(record["freeal"]["per_seed"]):
            seed["rounds"] = [{"test_macro_f1": 50.0}, {"test_macro_f1": 40.0 + 10 * s}]
            seed["final"] = {"macro_f1": 40.0 + 10 * s}
        folder = tmp_path / record["case_id"]
        folder.mkdir()
        stored = {"labels": LABELS, "test": "t", "gold": gold.tolist()}
        stored["runs"] = predictions(gold, accuracy, rng)
        stored["matched_gold"] = predictions(gold, 0.9, rng)
        (folder / "predictions.json").write_text(json.dumps(stored))
        record["predictions"] = f"{record['case_id']}/predictions.json"
        records.append(record)
    answer = summary_markdown(records, tmp_path).split("**6. FreeAL")[1]
    effects = next(line for line in answer.splitlines() if line.startswith("- Paired FreeAL"))
    assert "batch calibration vs none +" in effects
    assert effects.endswith("(significant gain in 1, loss in 0 of 1 pair).")
    assert "class-balanced vs reference" not in effects  # two options apart: not a pair
    assert "lower in 3, higher in 3, unchanged in 3 of 9 seeds (mean Δ +0.0" in answer


def test_freeal_demo_sources_are_paired_with_each_other_and_with_none(tmp_path):
    """Gold, generated and no demos in one cell give three demo pairs, untested without
    stored predictions: the difference is still shown; a run on another pool pairs with none."""
    records = []
    for source, f1 in (("gold", 9.5), ("target_demos", 2.9), ("none", 4.8)):
        record = freeal_record("class_balanced", f1, 80.4)
        record["case_id"] += f"-{source}"
        record["spec"]["freeal"]["demo_source"] = source
        records.append(record)
    # the gold run again on a larger pool: not alike in everything else, so in no pair
    larger_pool = freeal_record("class_balanced", 60.0, 80.4)
    larger_pool["case_id"] += "-gold-pool200"
    larger_pool["spec"]["freeal"]["pool_size"] = 200
    records.append(larger_pool)
    answer = summary_markdown(records, tmp_path).split("**6. FreeAL")[1]
    effects = next(line for line in answer.splitlines() if line.startswith("- Paired FreeAL"))
    assert "gold demos vs none +4.7 (significant gain in 0, loss in 0 of 1 pair)" in effects
    assert "generated demos vs none -1.9" in effects
    assert "gold vs generated demos +6.6 (significant gain in 0, loss in 0 of 1 pair)" in effects


def test_freeal_annotators_are_paired_when_the_runs_differ_only_in_the_llm(tmp_path):
    """Qwen and SmolLM2 on the same pool, demos and options (their engine slots differ: a
    hardware setting) give one annotator pair; a Qwen run with other options pairs with none."""
    records = []
    for model, clean, slots, f1 in (
        ("smollm2-135m", "class_balanced", 4, 30.0),
        ("qwen2.5-coder-1.5b", "class_balanced", 2, 55.0),
        ("qwen2.5-coder-1.5b", "reference", 2, 20.0),
    ):
        record = freeal_record(clean, f1, 80.4)
        record["case_id"] += f"-{model}"
        record["spec"].update(
            model=model, generation={"backend_options": {"n_parallel": slots}, "top_p": 0.9}
        )
        records.append(record)
    answer = summary_markdown(records, tmp_path).split("**6. FreeAL")[1]
    effects = next(line for line in answer.splitlines() if line.startswith("- Paired FreeAL"))
    assert "Qwen2.5-Coder-1.5B vs SmolLM2-135M annotator +25.0" in effects
    assert "annotator +25.0 (significant gain in 0, loss in 0 of 1 pair)" in effects


def test_an_off_language_row_is_marked_and_never_named_closest(tmp_path):
    """SIB-200 sw `summarised_label` wrote English (language fidelity 0.01) and scored highest:
    it is marked and the best in-language strategy is named instead."""
    rng = np.random.default_rng(6)
    gold = rng.integers(0, 4, 300)
    english = write_case(tmp_path, "summarised_label", 0.9, 0.9, rng, gold)
    english["quality"] = {"language_fidelity": 0.01, "gold_language_fidelity": 1.0}
    swahili = write_case(tmp_path, "target_demos", 0.5, 0.9, rng, gold)
    swahili["quality"] = {"language_fidelity": 0.98, "gold_language_fidelity": 1.0}
    text = summary_markdown([english, swahili], tmp_path)
    answer1 = text.split("**1.")[1].split("**2.")[0]
    assert "`target_demos` is closest" in answer1
    assert "`summarised_label` (not in German: 1%)" in answer1  # named as not ranked
    matrix = text.split("against the others")[1]
    assert "summarised_label (not in German: 1%)" in matrix


def case_with_arms(results, setting, rng, gold, *, samples_per_label=100):
    """A generated case at 0.6 accuracy with stored arms: demos 0.8, demos + generated 0.81,
    gold 0.95."""
    record = write_case(results, setting, 0.6, 0.9, rng, gold)
    arms_runs = {
        "demos": predictions(gold, 0.8, rng),
        "demos_plus_generated": predictions(gold, 0.81, rng),
        "gold": [{**r, "draw": r.pop("generation_seed")} for r in predictions(gold, 0.95, rng)],
    }
    path = f"{record['case_id']}/arms_predictions.json"
    (results / path).write_text(json.dumps(arms_runs))
    record["spec"]["samples_per_label"] = samples_per_label
    record["arms"] = {
        "predictions": path,
        "demos": {"macro_f1_mean": 80.0},
        "generated": {"macro_f1_mean": 60.0},
        "demos_plus_generated": {"macro_f1_mean": 81.0},
        "gold": {"macro_f1_mean": 95.0},
        "matched_gold": {"macro_f1_mean": 90.0},
    }
    return record


def test_arms_answer_tallies_every_size_largest_first(tmp_path):
    """The first screen covers the largest size; answer 0 also counts each smaller size."""
    rng = np.random.default_rng(8)
    gold = rng.integers(0, 4, 300)
    large = case_with_arms(tmp_path, "target_demos", rng, gold)
    small = case_with_arms(tmp_path, "target_demos_sl", rng, gold, samples_per_label=10)
    answer0 = summary_markdown([large, small], tmp_path).split("**0.")[1].split("**1.")[0]
    tallies = [line for line in answer0.splitlines() if line.startswith("- Over ")]
    assert [line.split(" (")[0] for line in tallies] == [
        "- Over 1 strategy row at n=100",
        "- Over 1 strategy row at n=10",
    ]
    assert "generated - demos: mean -" in tallies[1]
    assert "significant gain in 0, loss in 1, within noise in 0 of 1" in tallies[1]


def test_arms_answer_compares_each_arm_with_holm(tmp_path):
    rng = np.random.default_rng(7)
    gold = rng.integers(0, 4, 300)
    record = case_with_arms(tmp_path, "target_demos", rng, gold)
    answer0 = summary_markdown([record], tmp_path).split("**0.")[1].split("**1.")[0]
    assert (
        "n=100 per label. 4 paired tests, Holm-Bonferroni-corrected within each size (n=100: 4 tests)"
        in answer0
    )
    assert "demos alone 80.0, generated 60.0, demos + generated 81.0, gold 95.0" in answer0
    row = next(line for line in answer0.splitlines() if line.startswith("| sib200 |"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    generated_minus_demos, plus_minus_demos = cells[11], cells[12]
    assert generated_minus_demos.endswith("*") and generated_minus_demos.startswith("-")
    assert not plus_minus_demos.endswith("*")  # 0.81 vs 0.80 accuracy: within noise
    assert "within noise, detectable" in answer0
