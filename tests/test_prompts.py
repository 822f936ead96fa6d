"""Tests for benchmark.generation.prompts."""

from __future__ import annotations

import pytest

from benchmark.generation import prompts
from benchmark.generation.prompts import (
    PROMPT_VERSION,
    REVISION_CHOICES,
    PromptTooLongError,
    annotation_messages,
    description_messages,
    fit_demos_to_context,
    generation_messages,
    paraphrase_messages,
    revision_messages,
    revision_reason_messages,
    translation_messages,
)

DEMOS = ["je nina kengele zozote leo", "nionyeshe kengele zangu", "kengele ya kesho ni saa ngapi"]


def _well_formed(messages):
    assert isinstance(messages, list) and messages
    for message in messages:
        assert set(message) == {"role", "content"}
        assert message["role"] in {"system", "user", "assistant"}
        assert isinstance(message["content"], str) and message["content"].strip()
    assert messages[-1]["role"] == "user"
    roles = [m["role"] for m in messages]
    assert "system" not in roles[1:]


ALL_BUILDERS = [
    generation_messages(label="alarm_query", language_name="Swahili", n=5),
    generation_messages(
        label="alarm_query",
        language_name="Swahili",
        n=5,
        description="The user asks which alarms are set.",
        demos=DEMOS,
        demo_language_name="English",
    ),
    revision_messages(
        text="nina kengele?", label="alarm_query", description=None, language_name="Swahili"
    ),
    revision_reason_messages(
        text="x", label="alarm_query", description="d", language_name="Swahili"
    ),
    revision_reason_messages(
        text="x", label="alarm_query", description="d", language_name="Swahili", verdict="no"
    ),
    description_messages(label="alarm_query", examples=DEMOS, dataset_name="MASSIVE"),
    translation_messages(
        text="hello", source_language_name="English", target_language_name="Welsh"
    ),
    paraphrase_messages(text="helo", language_name="Welsh"),
    annotation_messages(
        text="nina kengele?",
        labels=["alarm_query", "weather_query"],
        demos=[("hali ya hewa", "weather_query")],
        language_name="Swahili",
    ),
]


@pytest.mark.parametrize("messages", ALL_BUILDERS)
def test_messages_are_well_formed(messages):
    _well_formed(messages)


def test_generation_prompt_content():
    messages = generation_messages(
        label="alarm_query",
        language_name="Swahili",
        n=7,
        description="The user asks which alarms are set.",
        demos=DEMOS,
        demo_language_name="English",
    )
    system, user = messages[0]["content"], messages[1]["content"]
    assert "alarm query" in system and "Swahili" in system
    assert "Write 7 new" in user
    assert "The user asks which alarms are set." in user
    assert all(demo in user for demo in DEMOS)
    assert "in English" in user
    assert "one example on each line" in user and "no numbering" in user
    assert "translate" in user  # English demos: do not just translate them


def test_generation_prompt_without_description_or_demos():
    user = generation_messages(label="sports", language_name="Welsh", n=3)[1]["content"]
    assert "means" not in user and "Here are examples" not in user
    assert "translate" not in user and "copy" not in user


def test_same_language_demos_do_not_mention_translation():
    user = generation_messages(label="sports", language_name="Welsh", n=3, demos=["un", "dau"])[1][
        "content"
    ]
    assert "examples of this class in Welsh" in user and "translate" not in user


def test_revision_prompt_asks_for_one_word():
    content = revision_messages(
        text="nina kengele?",
        label="alarm_query",
        description="asks about alarms",
        language_name="Swahili",
    )[-1]["content"]
    assert content.rstrip().endswith("yes or no.")
    assert "exactly one word" in content and "asks about alarms" in content
    assert REVISION_CHOICES == ("yes", "no")


def test_revision_reason_replays_verdict():
    messages = revision_reason_messages(
        text="x", label="alarm_query", description=None, language_name="Swahili", verdict="no"
    )
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == "no" and "one sentence" in messages[3]["content"]


def test_annotation_lists_labels_and_demos():
    content = annotation_messages(
        text="nina kengele?",
        labels=["alarm_query", "weather_query"],
        demos=[("hali ya hewa", "weather_query")],
        language_name="Swahili",
    )
    text = "\n".join(m["content"] for m in content)
    assert "alarm_query, weather_query" in text and "hali ya hewa" in text
    assert "nina kengele?" in content[-1]["content"]


def test_translation_and_description_content():
    user = translation_messages(
        text="hello", source_language_name="English", target_language_name="Welsh"
    )[1]
    assert (
        "English" in user["content"] and "Welsh" in user["content"] and "hello" in user["content"]
    )
    user = description_messages(label="alarm_query", examples=DEMOS, dataset_name="MASSIVE")[1]
    assert all(d in user["content"] for d in DEMOS) and "MASSIVE" in user["content"]


def _word_count(messages):
    return sum(len(m["content"].split()) for m in messages)


def _build(demos):
    return generation_messages(label="alarm_query", language_name="Swahili", n=5, demos=demos)


def test_fit_demos_keeps_all_when_it_fits():
    messages, used = fit_demos_to_context(_build, DEMOS, _word_count, max_prompt_tokens=10_000)
    assert used == len(DEMOS) and messages == _build(DEMOS)


def test_fit_demos_drops_from_the_end_until_it_fits():
    full = _word_count(_build(DEMOS))
    one_less = _word_count(_build(DEMOS[:2]))
    messages, used = fit_demos_to_context(_build, DEMOS, _word_count, max_prompt_tokens=full - 1)
    assert used == 2 and messages == _build(DEMOS[:2])
    assert _word_count(messages) == one_less
    limit = _word_count(_build([]))
    messages, used = fit_demos_to_context(_build, DEMOS, _word_count, max_prompt_tokens=limit)
    assert used == 0 and messages == _build([])


def test_fit_demos_raises_when_nothing_fits():
    with pytest.raises(PromptTooLongError, match="without any demo"):
        fit_demos_to_context(_build, DEMOS, _word_count, max_prompt_tokens=3)


def test_prompt_version_is_a_string():
    assert isinstance(PROMPT_VERSION, str) and PROMPT_VERSION
    assert prompts.PROMPT_VERSION == PROMPT_VERSION
