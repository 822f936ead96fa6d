"""The arms of a generated case (demos alone, generated, demos + generated, gold, matched gold):
written by the run, rebuilt identically by the backfill from the stored generated sets, and
`demos` is exactly the demos the prompts showed."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
from scripted_llm import ScriptedBackend, ctx_for, label_of, make_spec

from benchmark.data.source import DataSource
from benchmark.runner.arms import ARMS
from benchmark.runner.arms_backfill import backfill_arms
from benchmark.runner.run import run_case


def reply(prompt, seed):
    label = label_of(prompt)
    return "\n".join(f"{i}. a {label} sentence number {seed}-{i} here" for i in range(3))


class RecordingBackend(ScriptedBackend):
    def __init__(self, reply):
        super().__init__(reply)
        self.prompts: list[str] = []

    def generate(self, requests, *, on_result=None):
        self.prompts += [r.messages[-1][1] for r in requests]
        return super().generate(requests, on_result=on_result)


def run_two_sets(tmp_path, data_dir, use_backend, backend=None):
    backend = backend or ScriptedBackend(reply)
    spec = dataclasses.replace(make_spec(n=3, seeds=[0, 1]), seeds=(0, 1))
    ctx = ctx_for(tmp_path, data_dir, use_backend(backend))
    return spec, ctx, run_case(spec, ctx)


def test_a_generated_record_has_every_arm_with_scores_and_predictions(
    use_backend, tmp_path, sib_fixture_dir
):
    spec, ctx, record = run_two_sets(tmp_path, sib_fixture_dir, use_backend)
    arms = record["arms"]
    assert set(ARMS) <= set(arms)
    for name in ARMS:
        assert isinstance(arms[name]["macro_f1_mean"], float)
        assert len(arms[name]["per_seed"]) >= 2
    assert arms["generated"]["macro_f1_mean"] == record["scores"]["macro_f1_mean"]
    stored = json.loads((ctx.results_dir / arms["predictions"]).read_text(encoding="utf-8"))
    assert [(r["generation_seed"], r["seed"]) for r in stored["demos"]] == [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
    ]
    assert [r["draw"] for r in stored["gold"]] == [0, 1]
    # demos + generated trains on both: each set's counts are the demos' plus the generated's
    counts = arms["demos_plus_generated"]["train_label_counts"]["0"]
    assert counts == {label: 2 + 3 for label in counts}
    # per-set matched-gold counts are all kept (not only the last set's)
    assert set(record["matched_gold"]["train_label_counts_by_generation_seed"]) == {"0", "1"}


def test_demos_arm_is_exactly_the_demos_the_prompts_showed(use_backend, tmp_path, sib_fixture_dir):
    backend = RecordingBackend(reply)
    spec = make_spec(n=3)
    record = run_case(spec, ctx_for(tmp_path, sib_fixture_dir, use_backend(backend)))
    demos = record["arms"]["demos"]
    assert demos["shown_to_generator"] is True
    train = DataSource(sib_fixture_dir).split("sib200", "sw", "train")
    by_uid = {e.uid: e for e in train.examples}
    uids = demos["uids_by_generation_seed"]["0"]
    assert len(uids) == 2 * 7  # demos_per_label x labels
    for uid in uids:
        example = by_uid[uid]
        shown = [p for p in backend.prompts if label_of(p) == example.label]
        assert shown and all(example.text in p for p in shown)
    shown_texts = {e.text for e in train.examples if any(e.text in p for p in backend.prompts)}
    assert shown_texts == {by_uid[u].text for u in uids}


def test_backfill_rebuilds_the_same_arms_and_changes_nothing_else(
    use_backend, tmp_path, sib_fixture_dir
):
    spec, ctx, record = run_two_sets(tmp_path, sib_fixture_dir, use_backend)
    path = ctx.results_dir / f"{spec.case_id}.json"
    original = path.read_bytes()
    saved = tmp_path / "arms_predictions.json"
    shutil.copy(ctx.results_dir / record["arms"]["predictions"], saved)
    without = json.loads(original)
    del without["arms"]
    path.write_text(json.dumps(without, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    (ctx.results_dir / record["arms"]["predictions"]).unlink()

    updated, failed = backfill_arms(ctx.results_dir, data_dir=sib_fixture_dir)

    assert (updated, failed) == ([spec.case_id], [])
    rebuilt = json.loads(path.read_bytes())
    assert rebuilt["arms"].pop("backfilled")["max_test_predictions_differing_per_set"] == 0
    assert rebuilt == json.loads(original)  # nothing else changed, the same arms
    assert (ctx.results_dir / record["arms"]["predictions"]).read_bytes() == saved.read_bytes()
    assert backfill_arms(ctx.results_dir, data_dir=sib_fixture_dir) == ([], [])  # has arms


def test_backfill_refuses_a_set_that_does_not_reproduce_the_record(
    use_backend, tmp_path, sib_fixture_dir
):
    spec, ctx, record = run_two_sets(tmp_path, sib_fixture_dir, use_backend)
    path = ctx.results_dir / f"{spec.case_id}.json"
    without = json.loads(path.read_text(encoding="utf-8"))
    del without["arms"]
    path.write_text(json.dumps(without, indent=2, sort_keys=True) + "\n")
    before = path.read_bytes()
    generated = ctx.results_dir / spec.case_id / "generated-seed1.jsonl"
    rows = [json.loads(line) for line in generated.read_text(encoding="utf-8").splitlines()]
    for i, row in enumerate(rows):  # another training set than the one the record scored
        row["label"] = ("sports", "travel")[i % 2]
    generated.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    updated, failed = backfill_arms(ctx.results_dir, data_dir=sib_fixture_dir)

    assert updated == [] and "does not reproduce" in failed[0]
    assert path.read_bytes() == before


@pytest.fixture
def use_backend(tmp_path):
    from scripted_llm import scripted

    return lambda backend: scripted(backend, tmp_path / "llm.sqlite")


def test_english_demo_strategies_get_the_target_language_examples_with_their_ids(
    tmp_path, sib_fixture_dir
):
    from benchmark.data.loaders import sample_per_label
    from benchmark.runner.arms import demo_arm
    from benchmark.strategies import STRATEGIES

    data = DataSource(sib_fixture_dir)
    spec = make_spec("english_demos_sl")
    arm = demo_arm(spec, STRATEGIES["english_demos_sl"], data, generation_seed=3)
    english = sample_per_label(data.split("sib200", "en", "train"), 2, seed=3)
    assert [e.uid for e in arm.examples] == [e.uid for e in english]
    assert {e.split for e in arm.examples} == {"train"} and not arm.shown
    assert all(e.text.startswith("swh_Latn") for e in arm.examples)  # the Swahili rows
