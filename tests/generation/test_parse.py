"""Tests for benchmark.generation.parse: realistic messy outputs and properties."""

from __future__ import annotations

import csv
import time
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.generation.parse import (
    ParseResult,
    normalise_for_match,
    parse_samples,
    split_demo_copies,
)
from benchmark.paths import default_data_dir

SW_ALARMS = (
    "Je, nina kengele zozote zilizowekwa leo?",
    "Nionyeshe kengele zangu zote za wiki hii.",
    "Kengele yangu ya asubuhi imewekwa saa ngapi?",
)

# (name, model output, parse options, expected samples, expected non-zero drop counts)
MESSY_OUTPUTS = [
    (
        "qwen_numbered_with_preamble",
        'Here are 3 examples of the "alarm query" class in Swahili:\n\n'
        "1. Je, nina kengele zozote zilizowekwa leo?\n"
        "2. Nionyeshe kengele zangu zote za wiki hii.\n"
        "3. Kengele yangu ya asubuhi imewekwa saa ngapi?\n\n"
        "These examples cover different ways of asking about alarms.",
        {},
        SW_ALARMS,
        {"preamble": 1, "chatter": 1},
    ),
    (
        "numbered_parenthesis_and_non_english_chatter",
        "1) Je, nina kengele zozote zilizowekwa leo?\n"
        "2) Nionyeshe kengele zangu zote za wiki hii.\n"
        "3) Kengele yangu ya asubuhi imewekwa saa ngapi?\n"
        "Natumaini mifano hii itakusaidia!",
        {},
        SW_ALARMS,
        {"chatter": 1},
    ),
    (
        "mixed_number_styles",
        "(1) Je, nina kengele zozote zilizowekwa leo?\n"
        "#2 Nionyeshe kengele zangu zote za wiki hii.\n"
        "3 - Kengele yangu ya asubuhi imewekwa saa ngapi?",
        {},
        SW_ALARMS,
        {},
    ),
    (
        "bullets_and_bold",
        "- **Je, nina kengele zozote zilizowekwa leo?**\n"
        "* Nionyeshe kengele zangu zote za wiki hii.\n"
        "\u2022 Kengele yangu ya asubuhi imewekwa saa ngapi?",
        {},
        SW_ALARMS,
        {},
    ),
    (
        "json_array_in_fence",
        "Sure! Here is the list:\n```json\n[\n"
        '  "Je, nina kengele zozote zilizowekwa leo?",\n'
        '  "Nionyeshe kengele zangu zote za wiki hii.",\n'
        '  "Kengele yangu ya asubuhi imewekwa saa ngapi?"\n'
        "]\n```\nI hope this helps!",
        {},
        SW_ALARMS,
        {"preamble": 1, "chatter": 1},
    ),
    (
        "json_objects",
        '[{"text": "Je, nina kengele zozote zilizowekwa leo?", "label": "alarm_query"},'
        ' {"text": "Nionyeshe kengele zangu zote za wiki hii.", "label": "alarm_query"},'
        ' {"text": "Kengele yangu ya asubuhi imewekwa saa ngapi?", "label": "alarm_query"}]',
        {},
        SW_ALARMS,
        {},
    ),
    (
        "json_lines",
        '{"example": "Je, nina kengele zozote zilizowekwa leo?"}\n'
        '{"example": "Nionyeshe kengele zangu zote za wiki hii."}\n'
        '{"example": "Kengele yangu ya asubuhi imewekwa saa ngapi?"}',
        {},
        SW_ALARMS,
        {},
    ),
    (
        "json_object_with_list",
        '{"examples": ["Je, nina kengele zozote zilizowekwa leo?",'
        ' "Nionyeshe kengele zangu zote za wiki hii.",'
        ' "Kengele yangu ya asubuhi imewekwa saa ngapi?"]}',
        {},
        SW_ALARMS,
        {},
    ),
    (
        "truncated_json_array",
        '["Je, nina kengele zozote zilizowekwa leo?", '
        '"Nionyeshe kengele zangu zote za wiki hii.", '
        '"Kengele yangu ya asubuhi imewekwa saa ngapi?", "Je, kengele ya ke',
        {"finish_reason": "length"},
        SW_ALARMS,
        {"truncated": 1},
    ),
    (
        "python_list_single_quotes",
        "['Je, nina kengele zozote zilizowekwa leo?', "
        "'Nionyeshe kengele zangu zote za wiki hii.', "
        "'Kengele yangu ya asubuhi imewekwa saa ngapi?',]",
        {},
        SW_ALARMS,
        {},
    ),
    (
        "comma_separated_quoted_list",
        '"Je, nina kengele zozote zilizowekwa leo?", '
        '"Nionyeshe kengele zangu zote za wiki hii.", '
        '"Kengele yangu ya asubuhi imewekwa saa ngapi?"',
        {},
        SW_ALARMS,
        {},
    ),
    (
        "curly_quotes_and_guillemets",
        "\u201cJe, nina kengele zozote zilizowekwa leo?\u201d\n"
        "\u00abNionyeshe kengele zangu zote za wiki hii.\u00bb\n"
        "\u201eKengele yangu ya asubuhi imewekwa saa ngapi?\u201c",
        {},
        SW_ALARMS,
        {},
    ),
    (
        "truncated_last_line",
        "Je, nina kengele zozote zilizowekwa leo?\n"
        "Nionyeshe kengele zangu zote za wiki hii.\n"
        "Kengele yangu ya asubuhi imewekwa saa ngapi?\n"
        "Je, kengele ya kesho imewash",
        {"finish_reason": "length"},
        SW_ALARMS,
        {"truncated": 1},
    ),
    (
        "label_prefixes_and_label_lines",
        "Example 1: Je, nina kengele zozote zilizowekwa leo?\nLabel: alarm_query\n"
        'Sentence 2: "Nionyeshe kengele zangu zote za wiki hii."\nLabel: alarm_query\n'
        "Mfano 3: Kengele yangu ya asubuhi imewekwa saa ngapi?",
        {},
        SW_ALARMS,
        {"meta": 2},
    ),
    (
        "translations_glossed",
        "1. Je, nina kengele zozote zilizowekwa leo? (Translation: Do I have any alarms set today?)\n"
        "   English: Do I have any alarms set today?\n"
        "2. Nionyeshe kengele zangu zote za wiki hii. - English: Show me all my alarms this week.\n"
        "3. Swahili: Kengele yangu ya asubuhi imewekwa saa ngapi?",
        {},
        SW_ALARMS,
        {"meta": 1},
    ),
    (
        "llama_quoted_with_english_gloss",
        'Here are 3 examples of "alarm query" in Swahili:\n\n'
        '1. "Je, nina kengele zozote zilizowekwa leo?" (Do I have any alarms set today?)\n'
        "2. \u00abNionyeshe kengele zangu zote za wiki hii.\u00bb - Show me all my alarms this week.\n"
        '3. "Kengele yangu ya asubuhi imewekwa saa ngapi?" \u2192 What time is my morning alarm?',
        {},
        SW_ALARMS,
        {"preamble": 1},
    ),
    (
        "markdown_table",
        "| # | Example | Label |\n|---|---|---|\n"
        "| 1 | Je, nina kengele zozote zilizowekwa leo? | alarm_query |\n"
        "| 2 | Nionyeshe kengele zangu zote za wiki hii. | alarm_query |\n"
        "| 3 | Kengele yangu ya asubuhi imewekwa saa ngapi? | alarm_query |",
        {},
        SW_ALARMS,
        {"meta": 1},
    ),
    (
        "heading_and_section_headers",
        "### Swahili examples\n\n**Formal:**\n"
        "1. Je, nina kengele zozote zilizowekwa leo?\n"
        "2. Nionyeshe kengele zangu zote za wiki hii.\n"
        "**Informal:**\n3. Kengele yangu ya asubuhi imewekwa saa ngapi?\n---\n"
        "Note: all examples use standard Swahili.",
        {},
        SW_ALARMS,
        {"meta": 2, "preamble": 1, "chatter": 1},
    ),
    (
        "reference_style_drop_first_and_last",
        "Hapa kuna mifano\n"
        "Je, nina kengele zozote zilizowekwa leo?\n"
        "Nionyeshe kengele zangu zote za wiki hii.\n"
        "Kengele yangu ya asubuhi imewekwa saa ngapi?\n"
        "Je, kengele ya kesho",
        {"drop_first_line": True, "drop_last_line": True},
        SW_ALARMS,
        {"preamble": 1, "truncated": 1},
    ),
    (
        "duplicates_and_length_window",
        "Je, nina kengele zozote zilizowekwa leo?\n"
        "je nina kengele zozote zilizowekwa leo\n"
        "Je, nina kengele zozote zilizowekwa leo?\n"
        "Ndiyo\n" + "Nionyeshe kengele zangu zote za wiki hii. " * 8,
        {},
        ("Je, nina kengele zozote zilizowekwa leo?",),
        {"duplicate": 2, "too_short": 1, "too_long": 1},
    ),
]


@pytest.mark.parametrize(
    ("text", "options", "expected", "drops"),
    [case[1:] for case in MESSY_OUTPUTS],
    ids=[case[0] for case in MESSY_OUTPUTS],
)
def test_messy_outputs(text, options, expected, drops):
    result = parse_samples(text, **options)
    assert result.samples == tuple(expected)
    assert {k: v for k, v in result.dropped.items() if v} == drops


def test_truncated_last_line_kept_without_length_finish():
    text = "Set an alarm for seven tomorrow\nWhat alarms do I have on Sunday morn"
    assert len(parse_samples(text).samples) == 2
    assert len(parse_samples(text, finish_reason="stop").samples) == 2
    assert len(parse_samples(text, finish_reason="length", drop_truncated_last=False).samples) == 2
    assert parse_samples(text, finish_reason="length").truncated == 1


def test_lone_leading_ordinal_is_not_numbering():
    text = "3. Oktober ist der Tag der Deutschen Einheit\nWie spät ist es jetzt in Berlin"
    assert parse_samples(text).samples[0] == "3. Oktober ist der Tag der Deutschen Einheit"


def test_single_numbered_item_is_stripped():
    assert parse_samples("1. Wie spät ist es jetzt in Berlin").samples == (
        "Wie spät ist es jetzt in Berlin",
    )


def test_preamble_without_colon_and_bare_courtesy():
    text = (
        "Sure!\nHere are five examples of the weather query class\nWill it rain in Nairobi tomorrow"
    )
    result = parse_samples(text)
    assert result.samples == ("Will it rain in Nairobi tomorrow",)
    assert result.preamble == 2


@pytest.mark.parametrize(
    "text",
    [
        "- " * 30000 + "a sample at the end",
        "1) " * 30000 + "a sample at the end",
        "Example: " * 20000 + "a sample at the end",
        "'" * 20000 + "a sample in quotes" + "'" * 20000,
        "[" * 50000,
        '["a\n' * 3000,
        "(translation " * 20000,
    ],
    ids=["bullets", "numbers", "prefixes", "quotes", "brackets", "open_json", "glosses"],
)
def test_pathological_inputs_are_fast(text):
    start = time.perf_counter()
    parse_samples(text, finish_reason="length")
    assert time.perf_counter() - start < 3.0


def test_empty_and_none_inputs():
    assert parse_samples("") == ParseResult()
    assert parse_samples(None) == ParseResult()  # type: ignore[arg-type]
    assert parse_samples("\n\n```\n```\n") == ParseResult()


def test_invalid_window_raises():
    with pytest.raises(ValueError, match="min_chars"):
        parse_samples("x", min_chars=10, max_chars=5)


def test_dropped_totals():
    result = parse_samples("Here are examples:\nshort\nA perfectly fine sample sentence")
    assert result.n_dropped == result.preamble + result.too_short == 2


def test_normalise_for_match():
    assert normalise_for_match("  Je, nina KENGELE?! ") == normalise_for_match("je nina kengele")
    assert normalise_for_match("\u00abHallo\u00bb, Welt.") == "hallowelt"
    assert normalise_for_match("...") == ""
    # combining marks are letters in Thai and Telugu: they must stay
    assert normalise_for_match("\u0e01\u0e34") == "\u0e01\u0e34"


@pytest.mark.parametrize("locale", ["en-US", "de-DE", "th-TH", "he-IL", "sw-KE", "te-IN", "cy-GB"])
def test_numbered_gold_utterances_survive_parsing(locale):
    path = default_data_dir() / "massive" / f"{locale}_train.tsv"
    if not path.exists():
        pytest.skip(f"no data file {path}")
    with path.open(encoding="utf-8", newline="") as handle:
        texts = [row["text"] for row in csv.DictReader(handle, delimiter="\t")][:300]
    output = "Here are the examples:\n" + "\n".join(f"{i}. {t}" for i, t in enumerate(texts, 1))
    result = parse_samples(output, min_chars=1, max_chars=1000)
    expected = list(dict.fromkeys(unicodedata.normalize("NFC", " ".join(t.split())) for t in texts))
    keys = {normalise_for_match(t): t for t in reversed(expected)}
    expected = [t for t in expected if keys[normalise_for_match(t)] == t]
    assert list(result.samples) == expected


# --------------------------------------------------------------------------- demo copies

DEMOS = [
    "what alarms do i have set for tomorrow",
    "please tell me my alarms",
]


def test_split_demo_copies_exact_and_near():
    samples = [
        "What alarms do I have set for tomorrow?",  # normalised exact copy
        "what alarms do i have set for tomorow",  # one-letter typo: near copy
        "Please tell me my alarm",  # near copy
        "Is there an alarm on Friday at six",  # new
    ]
    kept, copies = split_demo_copies(samples, DEMOS)
    assert kept == ["Is there an alarm on Friday at six"]
    assert copies == samples[:3]


def test_split_demo_copies_threshold_and_empty():
    kept, copies = split_demo_copies(["please tell me my alarm"], DEMOS, near_threshold=1.0)
    assert kept == ["please tell me my alarm"] and copies == []
    assert split_demo_copies(["anything at all here"], []) == (["anything at all here"], [])
    with pytest.raises(ValueError):
        split_demo_copies([], DEMOS, near_threshold=0)


def test_split_demo_copies_is_fast_enough():
    samples = [f"sample number {i} asking about the alarms for day {i % 7}" for i in range(500)]
    demos = [f"demo {j}: which alarms are set on weekday {j}" for j in range(10)]
    start = time.perf_counter()
    split_demo_copies(samples, demos)
    assert time.perf_counter() - start < 5.0


# --------------------------------------------------------------------------- properties

WINDOWS = st.tuples(st.integers(0, 30), st.integers(0, 300)).map(lambda t: (t[0], t[0] + t[1]))
ANY_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400
) | st.text(alphabet="0123456789.-*#()[]{}\"',:;| \n\t\r`\u201c\u201d\u00ab\u00bbabc", max_size=200)


@settings(max_examples=400, deadline=None)
@given(text=ANY_TEXT, window=WINDOWS, finish=st.sampled_from([None, "stop", "length"]))
def test_never_raises_and_respects_window(text, window, finish):
    min_chars, max_chars = window
    result = parse_samples(text, min_chars=min_chars, max_chars=max_chars, finish_reason=finish)
    assert all(min_chars <= len(s) <= max_chars for s in result.samples)
    keys = [normalise_for_match(s) for s in result.samples]
    assert len(set(keys)) == len(keys) and all(keys)
    assert all("\n" not in s and s == s.strip() for s in result.samples)


@settings(max_examples=100, deadline=None)
@given(text=ANY_TEXT, first=st.booleans(), last=st.booleans())
def test_never_raises_with_reference_options(text, first, last):
    parse_samples(text, drop_first_line=first, drop_last_line=last, min_chars=0)


WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz\u00e4\u0e01\u05d0", min_size=1, max_size=8)
SENTENCE = st.lists(WORD, min_size=1, max_size=8).map(" ".join)
PUNCT = st.sampled_from(["", "?", ".", "!", ","])
MARKER = st.sampled_from(
    ["", "- ", "* ", "\u2022 ", "{i}. ", "{i}) ", "({i}) ", "#{i} ", "Example {i}: "]
)
QUOTE = st.sampled_from(
    [("", ""), ('"', '"'), ("\u201c", "\u201d"), ("\u00ab", "\u00bb"), ("**", "**")]
)


@st.composite
def model_outputs(draw):
    """Outputs shaped like a model's: optional preamble, decorated samples, optional chatter."""
    marker = draw(MARKER)
    quote = draw(QUOTE)
    lines = []
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["Here are some examples:", "Sure! Here you go:", ""])))
    for i, sentence in enumerate(draw(st.lists(SENTENCE, max_size=12)), start=1):
        lines.append(f"{marker.format(i=i)}{quote[0]}{sentence}{draw(PUNCT)}{quote[1]}")
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["I hope this helps!", "Let me know if you need more."])))
    return "\n".join(lines)


@settings(max_examples=300, deadline=None)
@given(text=model_outputs() | ANY_TEXT)
def test_parsing_joined_samples_is_idempotent(text):
    result = parse_samples(text, min_chars=3)
    again = parse_samples("\n".join(result.samples), min_chars=3)
    assert again.samples == result.samples
