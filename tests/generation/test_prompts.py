"""Tests for benchmark.generation.prompts."""

from __future__ import annotations

import pytest

from benchmark.generation import prompts
from benchmark.generation.prompts import (
    COMPLETION_ROLE,
    PROMPT_VERSION,
    REVISION_CHOICES,
    PromptTooLongError,
    annotation_messages,
    base_generation_prompt,
    description_messages,
    fit_demos_to_context,
    generation_messages,
    paraphrase_messages,
    resolve_prompt_style,
    revision_messages,
    revision_prompt,
    revision_reason_messages,
    translation_messages,
)
from benchmark.llm import backend as llm_backend

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
    # the study's English-demo prompt says nothing against copying or translating the demos
    assert "translate" not in user and "copy" not in user
    assert "Do not repeat these instructions" in user


@pytest.mark.parametrize(
    ("rule", "english", "target"),
    [
        ("target", "", "and do not copy the examples above"),
        ("all", "and do not copy or translate the examples above", "and do not copy the examples"),
        ("none", "", ""),
    ],
)
def test_demo_copy_rule_option(rule, english, target):
    def user(demo_language):
        return generation_messages(
            label="sports",
            language_name="Welsh",
            n=3,
            demos=["un", "dau"],
            demo_language_name=demo_language,
            demo_copy_rule=rule,
        )[1]["content"]

    english_user, target_user = user("English"), user("Welsh")
    for text, wanted in ((english_user, english), (target_user, target)):
        if wanted:
            assert wanted in text
        else:
            assert "copy" not in text and "translate" not in text


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


def test_revision_prompt_shows_the_description_it_is_given():
    for description in ("asks about alarms", None):
        content = revision_messages(
            text="t", label="alarm_query", description=description, language_name="Swahili"
        )[-1]["content"]
        assert ("meaning: asks about alarms" in content) == (description is not None)


def test_base_generation_prompt_is_a_numbered_list_to_continue():
    prompt = base_generation_prompt(
        label="sports", language_name="German", n=4, demos=["Ein Tor.", "Das Spiel."]
    )
    [message] = prompt.messages
    assert message["role"] == COMPLETION_ROLE
    text = message["content"]
    assert text.endswith("\n1. Ein Tor.\n2. Das Spiel.\n3.")
    assert '"sports", written in German' in text
    assert prompt.stop == ("\n\n", "\n7.")  # 4 new items: 3..6


def test_base_generation_prompt_with_english_demos_and_description():
    prompt = base_generation_prompt(
        label="sports",
        language_name="German",
        n=2,
        description="Texts about sport.",
        demos=["A goal."],
        demo_language_name="English",
    )
    text = prompt.messages[0]["content"]
    assert text.startswith('The class "sports" means: Texts about sport.')
    assert "written in English:\n1. A goal.\n\nExamples" in text
    assert text.endswith("written in German:\n1.")
    assert prompt.stop == ("\n\n", "\n3.")


def test_revision_prompt_styles():
    chat, chat_choices = revision_prompt(
        "chat", text="t", label="sports", description="d", language_name="German"
    )
    base, base_choices = revision_prompt(
        "base", text="t", label="sports", description="d", language_name="German"
    )
    assert chat_choices == REVISION_CHOICES and chat[-1]["role"] == "user"
    assert base_choices == (" yes", " no") and base[0]["role"] == COMPLETION_ROLE
    assert base[0]["content"].endswith("Answer:") and "meaning: d" in base[0]["content"]


def test_prompt_style_resolution():
    class Tok:
        chat_template = None

    class Backend:
        tokenizer = Tok()

    assert resolve_prompt_style("chat", "gemma3-270m", Backend()) == "chat"
    assert resolve_prompt_style("auto", "gemma3-270m", None) == "base"  # declared base alias
    assert resolve_prompt_style("auto", "some/model", Backend()) == "base"  # no chat template
    Tok.chat_template = "{{ messages }}"
    assert resolve_prompt_style("auto", "some/model", Backend()) == "chat"


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


def test_completion_role_matches_the_backends():
    assert COMPLETION_ROLE == llm_backend.COMPLETION_ROLE


def test_prompt_version_is_a_string():
    assert isinstance(PROMPT_VERSION, str) and PROMPT_VERSION
    assert prompts.PROMPT_VERSION == PROMPT_VERSION
