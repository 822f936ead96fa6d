"""Turn raw LLM output into clean, deduplicated candidate samples.

`parse_samples` copes with what small and large instruct models really write:
numbered or bulleted lists, quotes of every kind, code fences, JSON arrays (also
truncated ones), one-line lists of quoted strings, markdown tables and bold, label
prefixes (`Example 3:`), preambles, trailing chatter and a cut-off last line. It
never raises on any text, and it reports what it dropped and why.

Every rule that decides whether a line is a sample looks at the line's *cleaned*
content and cleaning runs to a fixed point, so parsing the joined samples again
gives the same samples (apart from contrived numbered-number corner cases).
"""

from __future__ import annotations

import ast
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from difflib import SequenceMatcher

__all__ = ["ParseResult", "normalise_for_match", "parse_samples", "split_demo_copies"]


@dataclass(frozen=True)
class ParseResult:
    """Samples parsed from one model output, and how many candidates were dropped and why.

    Attributes:
        samples: the kept samples, in output order.
        too_short: candidates shorter than `min_chars`.
        too_long: candidates longer than `max_chars`.
        duplicate: exact or normalised repeats of an earlier sample.
        preamble: lines before the samples ("Here are 5 examples:").
        chatter: lines after or around the samples ("I hope this helps").
        meta: headings, label/translation lines, table headers, notes between items.
        truncated: a cut-off last line or unterminated JSON string.
        no_text: candidates with nothing left after removing punctuation and spaces.
    """

    samples: tuple[str, ...] = ()
    too_short: int = 0
    too_long: int = 0
    duplicate: int = 0
    preamble: int = 0
    chatter: int = 0
    meta: int = 0
    truncated: int = 0
    no_text: int = 0

    @property
    def dropped(self) -> dict[str, int]:
        """Counts of dropped candidates by reason (all reasons, zeros included)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "samples"}

    @property
    def n_dropped(self) -> int:
        """Total number of dropped candidates."""
        return sum(self.dropped.values())


# --------------------------------------------------------------------------- patterns

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_BYTE_ORDER_MARK = "\ufeff"
_BOLD = re.compile(r"\*\*|__")
_BLOCKQUOTE = re.compile(r"^(?:>+\s*)+")
_BULLET = re.compile(
    r"^(?:(?:[-*+\u2013\u2014](?=\s)|[\u2022\u00b7\u25aa\u25e6\u2023\u25cf\u25cb\u25a0\u25a1\u27a4\u25ba\u2713\u2714\u2192\u2043])\s*)+"
)
_STRONG_NUMBER = re.compile(r"^(?:(?:\(\s*\d{1,4}\s*\)|\[\s*\d{1,4}\s*\]|\d{1,4}\s?\))\s*)+")
_WEAK_NUMBER = re.compile(
    r"^(?:#\s?(\d{1,4})[.):]?(?=\s)|(\d{1,4})\.(?=\s|[^\W\d_])|(\d{1,4})\s?[:\uff1a](?=\s)|(\d{1,4})\s+[-\u2013\u2014](?=\s))\s*"
)
_PREFIX_WORDS = (
    r"example|sample|sentence|text|utterance|query|output|answer|response|input|instance|item"
    r"|phrase|request|command|question|review|tweet|headline|user"
)
_LANGUAGE_WORDS = (
    r"german|deutsch|thai|hebrew|indonesian|bahasa indonesia|swahili|kiswahili|romanian"
    r"|azerbaijani|slovenian|slovene|telugu|welsh|cymraeg"
)
_LABEL_PREFIX = re.compile(
    rf"^(?:(?:(?:{_PREFIX_WORDS})s?\s*(?:#\s*)?(?:\d{{1,4}}\s*)?[:\uff1a]"
    rf"|(?:{_PREFIX_WORDS})\s*#?\s*\d{{1,4}}\s*[.)\-\u2013\u2014](?=\s)"
    rf"|(?:{_LANGUAGE_WORDS})\s*[:\uff1a]"
    rf"|[^\W\d_]{{2,12}}\s*#?\s*\d{{1,4}}\s*[:\uff1a](?=\s))\s*)+",
    re.IGNORECASE,
)
_GLOSS = re.compile(
    r"\s*[-\u2013\u2014:|]?\s*[(\[]\s*(?:translation|translated|transl\.|english|in english|meaning"
    r"|means|literally|lit\.|i\.e\.|label|intent|category|class)\b[^()\[\]]*[)\]]\s*$",
    re.IGNORECASE,
)
_SUFFIX = re.compile(
    r"\s+(?:[-\u2013\u2014|\u2192]|=>|->)\s*(?:translation|english|meaning|label|intent|category|class)\s*[:\uff1a].*$",
    re.IGNORECASE,
)
_QUOTE_PAIRS = (
    ('"', '"'),
    ("'", "'"),
    ("\u201c", "\u201d"),
    ("\u201d", "\u201d"),
    ("\u201c", "\u201c"),
    ("\u201e", "\u201c"),
    ("\u201e", "\u201d"),
    ("\u00ab", "\u00bb"),
    ("\u00bb", "\u00ab"),
    ("\u2018", "\u2019"),
    ("\u201a", "\u2018"),
    ("\u201a", "\u2019"),
    ("\u2019", "\u2019"),
    ("\u300c", "\u300d"),
    ("\u300e", "\u300f"),
    ("\u2039", "\u203a"),
    ("`", "`"),
    ("*", "*"),
)
_DOUBLE_QUOTES = '"\u201c\u201d\u201e\u00ab\u00bb'
_QUOTED_THEN_GLOSS = re.compile(
    rf"^[{_DOUBLE_QUOTES}](?P<inner>[^{_DOUBLE_QUOTES}]+)[{_DOUBLE_QUOTES}]\s*"
    r"(?:(?:(?:[-\u2013\u2014:=]|->|\u2192)\s*)?[(\[][^()\[\]]*[)\]]|(?:[-\u2013\u2014=]|->|\u2192)\s+\S.*)$"
)
_APOSTROPHE_LIKE = {"'", "\u2019"}
_QUOTE_CHARS = {char for pair in _QUOTE_PAIRS for char in pair} - {"*"}
_FENCE = re.compile(r"^(?:```|~~~)")
_RULE = re.compile(r"^[-=_*~\s]{3,}$")
_HEADING = re.compile(r"^#{1,6}(?:\s|$)")
_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?$")
_META = re.compile(
    r"^(?:label|labels|intent|category|class|topic|language|translation|translated|english|meaning"
    r"|domain|scenario|explanation|reason|comment)\s*(?:\([^)]*\))?\s*[:\uff1a]",
    re.IGNORECASE,
)
_META_NOUNS = (
    r"(?:examples?|sentences?|samples?|utterances?|phrases?|queries|requests?|texts?|list)"
)
_CHATTER = re.compile(
    rf"^(?:i hope (?:this|these|that|it|the above)\s+(?:{_META_NOUNS}\s+)?(?:helps?|is helpful|are helpful|meets?|fits?|works?)\b"
    r"|hope (?:this|these|that|it) helps?\b"
    r"|let me know if (?:you (?:need|want|would like|'d like|have any)|these|this (?:helps|works)|there's anything|i can)\b"
    r"|feel free to (?:ask|let me|adjust|modify|request)\b|please note(?: that\b|\s*[:,])|notes?\s*[:\uff1a]"
    rf"|(?:these|the above|all|each of these|all of these|all these|each)\s+(?:\w+\s+)?{_META_NOUNS}\s+(?:are|is|were|cover|use|follow|show|reflect|should|can|include|have|represent|fit|belong|demonstrate)\b"
    r"|i(?:'ve|\u2019ve| have)\s+(?:tried|made|included|ensured|avoided|kept|focused|used|varied)\b"
    r"|would you like (?:me|more|additional|any)\b"
    r"|if you (?:need|want|would like|'d like)\s+(?:more|additional|me to)\b"
    r"|do you (?:need|want) (?:more|me to)\b|i can (?:also )?(?:generate|provide|create|write)\b)",
    re.IGNORECASE,
)
_PREAMBLE = re.compile(
    r"^(?:here\s+(?:are|is)|here's|here\u2019s|below\s+(?:are|is)|the\s+following|as\s+requested"
    r"|i\s*(?:have|'ve|\u2019ve|will|'ll|\u2019ll)\s+(?:generated|written|created|produced|prepared|come\s+up"
    r"|generate|write|create|provide))\b.*(?:example|sample|sentence|utterance|text|phrase|quer|request"
    r"|review|tweet|headline|instance|item|[:\uff1a]\s*$)",
    re.IGNORECASE,
)
_COURTESY = re.compile(
    r"^(?:sure|certainly|of\s+course|absolutely|okay|ok|alright|all\s+right|great|no\s+problem|gladly"
    r"|understood)\s*[!.,]+\s*(?P<rest>.*)$|^(?:sure|certainly|of\s+course|absolutely|okay|alright)$",
    re.IGNORECASE,
)
_SECTION = re.compile(
    r"^(?:[^\W\d_]+\s+)?(?:examples?|samples?|sentences?|utterances?)(?:\s+(?:of|for|in)\b.*)?$",
    re.IGNORECASE,
)
_JSON_START = re.compile(r"^[ \t]*[\[{]", re.MULTILINE)
_TEXT_KEYS = ("text", "example", "sentence", "utterance", "sample", "query", "content", "input", "output")  # fmt: skip
_NON_TEXT_KEYS = {"label", "intent", "category", "class", "language", "lang", "id", "topic", "translation"}  # fmt: skip
_MAX_JSON_CANDIDATES = 200
_MAX_CLEAN_PASSES = 64


# --------------------------------------------------------------------------- public API


def normalise_for_match(text: str) -> str:
    """Key for duplicate and demo-copy matching.

    Args:
        text: any text.

    Returns:
        The text NFKC-normalised and case-folded, with all punctuation, whitespace and
        invisible format characters (zero-width space/joiners) removed; letters, digits,
        marks and symbols stay.
    """
    folded = unicodedata.normalize("NFKC", str(text)).casefold()
    return "".join(
        ch
        for ch in folded
        if not ch.isspace()
        and unicodedata.category(ch)[0] != "P"
        and unicodedata.category(ch) != "Cf"
    )


def parse_samples(
    text: str,
    *,
    min_chars: int = 10,
    max_chars: int = 200,
    drop_first_line: bool = False,
    drop_truncated_last: bool = True,
    finish_reason: str | None = None,
    drop_last_line: bool = False,
) -> ParseResult:
    """Parse one LLM generation into candidate samples.

    Args:
        text: the raw model output (anything; `None` and non-strings are tolerated).
        min_chars: shortest kept sample, in characters (code points).
        max_chars: longest kept sample, in characters.
        drop_first_line: always drop the first non-empty line (the reference study's
            way of removing a preamble); line-based outputs only.
        drop_truncated_last: drop the last line when `finish_reason == "length"`.
        finish_reason: the backend's finish reason (`"stop"`, `"length"`, ...), if known.
        drop_last_line: always drop the last non-empty line (the reference study asked
            for N+2 and dropped it); line-based outputs only.

    Returns:
        The kept samples and the counts of dropped candidates by reason.

    Raises:
        ValueError: the length window is invalid (never for any `text`).
    """
    if min_chars < 0 or max_chars < min_chars:
        raise ValueError(f"need 0 <= min_chars <= max_chars, got {min_chars} and {max_chars}")
    counts: Counter[str] = Counter()
    lines = _text_lines(text)
    blocks = _json_blocks(lines)
    if blocks is not None:
        candidates = _from_json(lines, blocks, counts)
    else:
        cut_last = drop_last_line or (drop_truncated_last and finish_reason == "length")
        candidates = _from_lines(lines, counts, drop_first=drop_first_line, drop_last=cut_last)
    samples = _filter(candidates, counts, min_chars=min_chars, max_chars=max_chars)
    return ParseResult(samples=tuple(samples), **counts)


def split_demo_copies(
    samples: Iterable[str], demos: Iterable[str], *, near_threshold: float = 0.9
) -> tuple[list[str], list[str]]:
    """Separate samples that copy one of the prompt's demos.

    A sample is a copy when its `normalise_for_match` key equals a demo's, or when the
    character-level similarity ratio (difflib) of the two keys is at least `near_threshold`.

    Args:
        samples: generated samples.
        demos: the demos shown in the prompt.
        near_threshold: similarity ratio in (0, 1] from which a sample counts as a copy.

    Returns:
        `(kept, copies)`, each in input order.

    Raises:
        ValueError: `near_threshold` is outside (0, 1].
    """
    if not 0 < near_threshold <= 1:
        raise ValueError(f"near_threshold must be in (0, 1], got {near_threshold}")
    demo_keys = [key for key in dict.fromkeys(normalise_for_match(d) for d in demos) if key]
    exact = set(demo_keys)
    kept: list[str] = []
    copies: list[str] = []
    for sample in samples:
        key = normalise_for_match(sample)
        is_copy = key in exact or any(_similar(key, demo, near_threshold) for demo in demo_keys)
        (copies if is_copy else kept).append(sample)
    return kept, copies


def _similar(a: str, b: str, threshold: float) -> bool:
    if not a or not b:
        return False
    if 2 * min(len(a), len(b)) / (len(a) + len(b)) < threshold:
        return False
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return (
        matcher.real_quick_ratio() >= threshold
        and matcher.quick_ratio() >= threshold
        and matcher.ratio() >= threshold
    )


# --------------------------------------------------------------------------- raw text


def _text_lines(text: object) -> list[str]:
    """Split into lines with control characters removed and spaces collapsed (empty kept)."""
    if text is None:
        return []
    raw = text if isinstance(text, str) else str(text)
    raw = raw.replace(_BYTE_ORDER_MARK, "")
    return [" ".join(_CONTROL.sub(" ", line).split()) for line in raw.splitlines()]


def _is_formatting(line: str) -> bool:
    return not line or bool(_FENCE.match(line)) or bool(_RULE.match(line))


# --------------------------------------------------------------------------- JSON outputs


@dataclass
class _Block:
    start: int
    end: int
    items: list[str]
    truncated: bool = False


def _json_blocks(lines: list[str]) -> list[_Block] | None:
    """Find JSON arrays/objects that start a line; None when there is none with text items."""
    text = "\n".join(lines)
    decoder = json.JSONDecoder()
    blocks: list[_Block] = []
    position = 0
    for n_seen, match in enumerate(_JSON_START.finditer(text)):
        if n_seen >= _MAX_JSON_CANDIDATES:
            break
        start = match.end() - 1
        if start < position:
            continue
        try:
            value, end = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            block = _lenient_block(text, start)
            if block is not None:
                blocks.append(block)
                break
            continue
        items = _json_items(value)
        if items:
            blocks.append(_Block(start, end, items))
            position = end
    return blocks or None


def _json_items(value: object, depth: int = 0) -> list[str]:
    """Text items of a decoded JSON value: strings, text fields of objects, nested lists."""
    if isinstance(value, str):
        return [value]
    if depth > 3:
        return []
    if isinstance(value, list):
        return [item for element in value for item in _json_items(element, depth + 1)]
    if isinstance(value, dict):
        lowered = {str(k).lower(): v for k, v in value.items()}
        for key in _TEXT_KEYS:
            if isinstance(lowered.get(key), str):
                return [lowered[key]]
        for key, item in lowered.items():
            if isinstance(item, list):
                return _json_items(item, depth + 1)
            if isinstance(item, str) and key not in _NON_TEXT_KEYS:
                return [item]
    return []


_JSON_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_JSON_TEXT_FIELD = re.compile(
    r'"(?:' + "|".join(_TEXT_KEYS) + r')"\s*:\s*"((?:[^"\\\n]|\\.)*)"', re.IGNORECASE
)


def _lenient_block(text: str, start: int) -> _Block | None:
    """Rescue a JSON array that does not parse (cut off, single-quoted, trailing comma)."""
    line_end = text.find("\n", start)
    line = text[start : len(text) if line_end < 0 else line_end].strip()
    literal = _python_list(line)
    if literal:
        return _Block(start, start + len(line), literal)
    rest = text[start:]
    pattern = (
        _JSON_TEXT_FIELD
        if rest.startswith("{") or rest[1:].lstrip().startswith("{")
        else _JSON_STRING
    )
    items: list[str] = []
    last_end = 0
    for match in pattern.finditer(rest):
        if rest[last_end : match.start()].strip(" \t\n,[]{}:\"'") and pattern is _JSON_STRING:
            break
        items.append(_decode_json_string(match.group(1)))
        last_end = match.end()
    if not items:
        return None
    tail = rest[last_end:]
    truncated = tail.count('"') % 2 == 1 and "]" not in tail
    return _Block(start, len(text), items, truncated=truncated)


def _python_list(line: str) -> list[str] | None:
    if not (line.startswith("[") and line.endswith("]")) or len(line) > 5000:
        return None
    try:
        value = ast.literal_eval(line)
    except Exception:  # literal_eval raises many types on arbitrary input
        return None
    return _json_items(value) if isinstance(value, list) else None


def _decode_json_string(body: str) -> str:
    try:
        return json.loads(f'"{body}"')
    except (ValueError, RecursionError):
        return body


def _from_json(lines: list[str], blocks: list[_Block], counts: Counter[str]) -> list[_Line]:
    """Candidates from JSON blocks; other lines are counted as preamble/chatter/meta."""
    offsets = []
    position = 0
    for line in lines:
        offsets.append(position)
        position += len(line) + 1
    for line, offset in zip(lines, offsets, strict=True):
        if _is_formatting(line) or any(
            b.start <= offset + len(line) and offset < b.end for b in blocks
        ):
            continue
        if offset < blocks[0].start:
            counts["preamble"] += 1
        elif offset >= blocks[-1].end:
            counts["chatter"] += 1
        else:
            counts["meta"] += 1
    counts["truncated"] += sum(block.truncated for block in blocks)
    items = [line for block in blocks for item in block.items for line in _lines_from(item)]
    items = _resolve_numbers(items)
    kinds = _classify(items)
    return [item for item, kind in zip(items, kinds, strict=True) if _count_kind(kind, counts)]


# --------------------------------------------------------------------------- line outputs


@dataclass
class _Line:
    content: str
    marked: bool = False
    weak_number: int | None = None
    weak_rest: str = ""
    forced: str | None = None


def _from_lines(
    lines: list[str], counts: Counter[str], *, drop_first: bool, drop_last: bool
) -> list[_Line]:
    """Candidates from a line-based output."""
    body = [line for line in lines if not _is_formatting(line)]
    if drop_first and body:
        counts["preamble"] += 1
        body = body[1:]
    items = _table_or_lines(body)
    if drop_last and items:
        items[-1].forced = "truncated"
    items = _resolve_numbers(items)
    kinds = _classify(items)
    _apply_list_mode(items, kinds)
    return [item for item, kind in zip(items, kinds, strict=True) if _count_kind(kind, counts)]


def _table_or_lines(lines: list[str]) -> list[_Line]:
    """Expand quoted comma lists, turn markdown table rows into their text cell."""
    items: list[_Line] = []
    for index, line in enumerate(lines):
        if _TABLE_SEPARATOR.match(line) and "-" in line:
            continue
        if line.startswith("|") and line.endswith("|") and len(line) > 1:
            header = index + 1 < len(lines) and bool(_TABLE_SEPARATOR.match(lines[index + 1]))
            for item in _lines_from(_table_cell(line)):
                item.marked = True
                item.forced = "meta" if header else None
                items.append(item)
            continue
        items.extend(_lines_from(line))
    return items


def _table_cell(row: str) -> str:
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    texts = [cell for cell in cells if cell and not cell.strip("#.").isdigit()]
    return max(texts, key=len) if texts else ""


def _split_quoted_list(line: str) -> list[str] | None:
    """Split `"a", "b", "c"` (any quote style, `,` or `;`) into items; None if not such a list."""
    body = line.strip().rstrip(" ,;.")
    for opening, closing in _QUOTE_PAIRS[:13]:
        if not body.startswith(opening):
            continue
        separator = re.compile(re.escape(closing) + r"\s*[,;]\s*" + re.escape(opening))
        parts = separator.split(body)
        if len(parts) < 2:
            continue
        parts[0] = parts[0][len(opening) :]
        if parts[-1].endswith(closing):
            parts[-1] = parts[-1][: -len(closing)]
        return parts
    return None


# --------------------------------------------------------------------------- cleaning


def _lines_from(raw: str, depth: int = 0) -> list[_Line]:
    """Clean one line into candidates: a quoted comma list (also one revealed by cleaning) splits.

    Args:
        raw: the line.
        depth: how many list splits led here (bounded, so nesting cannot recurse deeply).

    Returns:
        The cleaned candidates, noting list markers and any context-dependent number.
    """
    parts = _split_quoted_list(raw) if depth < 3 else None
    if parts:
        return [line for part in parts for line in _lines_from(part, depth + 1)]
    content, marked = _clean(raw)
    parts = _split_quoted_list(content) if depth < 3 else None
    if parts:
        lines = [line for part in parts for line in _lines_from(part, depth + 1)]
        for line in lines:
            line.marked = line.marked or marked
        return lines
    item = _Line(content, marked=marked)
    number = _WEAK_NUMBER.match(content)
    if number:
        item.weak_number = int(next(group for group in number.groups() if group is not None))
        item.weak_rest = content[number.end() :]
    return [item]


def _clean(text: str) -> tuple[str, bool]:
    """Strip decorations until nothing changes; returns (content, had a list marker)."""
    marked = False
    text = _BOLD.sub("", text)
    for _ in range(_MAX_CLEAN_PASSES):  # each pass strips one layer of every decoration
        before = text
        text = " ".join(text.split())
        text = _BLOCKQUOTE.sub("", text)
        for pattern in (_BULLET, _STRONG_NUMBER, _LABEL_PREFIX):
            stripped = pattern.sub("", text, count=1)
            marked = marked or (stripped != text and bool(stripped))
            text = stripped
        text = _SUFFIX.sub("", _GLOSS.sub("", text))
        text = _QUOTED_THEN_GLOSS.sub(r"\g<inner>", text)
        text = _strip_quotes(text)
        if text == before:
            break
    text = unicodedata.normalize("NFC", " ".join(text.split()))
    return text, marked


def _strip_quotes(text: str) -> str:
    """Remove one layer of surrounding quotes (also a trailing `,`/`;` after the quote)."""
    text = text.strip()
    if len(text) > 2 and text[-1] in ",;" and text[0] in _QUOTE_CHARS and text[-2] in _QUOTE_CHARS:
        text = text[:-1].rstrip()
    for opening, closing in _QUOTE_PAIRS:
        if (
            len(text) <= len(opening) + len(closing)
            or not text.startswith(opening)
            or not text.endswith(closing)
        ):
            continue
        inner = text[len(opening) : -len(closing)]
        if opening in _APOSTROPHE_LIKE or _balanced_inside(inner, opening, closing):
            return inner.strip()
    if text[:1] in _DOUBLE_QUOTES and not any(q in text[1:] for q in _DOUBLE_QUOTES):
        return text[1:].strip()
    if text[-1:] in _DOUBLE_QUOTES and not any(q in text[:-1] for q in _DOUBLE_QUOTES):
        return text[:-1].strip()
    return text


def _balanced_inside(inner: str, opening: str, closing: str) -> bool:
    if opening == "*":
        return not inner[:1].isspace() and not inner[-1:].isspace()
    return opening not in inner and closing not in inner


# --------------------------------------------------------------------------- classification


def _resolve_numbers(items: list[_Line]) -> list[_Line]:
    """Strip `1.`-style numbers only where they form a sequence (so `3. Mai` survives alone).

    Args:
        items: cleaned lines, some with a context-dependent leading number.

    Returns:
        The lines with accepted numbers stripped (a line may split if a quoted list remains).
    """
    numbers = [item.weak_number for item in items if item.weak_number is not None]
    accepted = [_in_sequence(numbers, index) for index in range(len(numbers))]
    resolved: list[_Line] = []
    position = 0
    for item in items:
        if item.weak_number is None:
            resolved.append(item)
            continue
        position += 1
        if not accepted[position - 1]:
            resolved.append(item)
            continue
        for line in _lines_from(item.weak_rest):
            line.marked, line.weak_number, line.forced = True, None, item.forced
            resolved.append(line)
    return resolved


def _in_sequence(numbers: list[int], index: int) -> bool:
    """A number continues or repeats its neighbour, or is a lone `1.`."""
    number = numbers[index]
    prev_ok = index > 0 and number - numbers[index - 1] in (0, 1)
    next_ok = index + 1 < len(numbers) and numbers[index + 1] - number in (0, 1)
    return prev_ok or next_ok or (len(numbers) == 1 and number <= 1)


def _classify(items: list[_Line]) -> list[str]:
    """Kind of each item: sample, preamble, chatter, meta, truncated or skip."""
    kinds: list[str] = []
    seen_sample = False
    for item in items:
        kind = item.forced or _kind_of(item.content, seen_sample)
        seen_sample = seen_sample or kind == "sample"
        kinds.append(kind)
    return kinds


def _kind_of(content: str, seen_sample: bool) -> str:
    opening = "chatter" if seen_sample else "preamble"
    if _is_formatting(content) or _TABLE_SEPARATOR.match(content):
        return "skip"
    if _HEADING.match(content) or _META.match(content) or _wrapped_in_brackets(content):
        return "meta"
    if _CHATTER.match(content):
        return "chatter"
    courtesy = _COURTESY.match(content)
    if _PREAMBLE.match(content) or (
        courtesy and (not courtesy["rest"] or _PREAMBLE.match(courtesy["rest"]))
    ):
        return opening
    if content.endswith((":", "\uff1a")) or (len(content) < 60 and _SECTION.match(content)):
        return opening if not seen_sample else "meta"
    return "sample"


def _wrapped_in_brackets(content: str) -> bool:
    return len(content) > 1 and content[0] + content[-1] in ("()", "[]", "||")


def _apply_list_mode(items: list[_Line], kinds: list[str]) -> None:
    """In a mostly marked list, unmarked lines are preamble, chatter or notes."""
    sample_ids = [i for i, kind in enumerate(kinds) if kind == "sample"]
    marked = [i for i in sample_ids if items[i].marked]
    if len(marked) < 2 or len(marked) <= len(sample_ids) - len(marked):
        return
    for i in sample_ids:
        if not items[i].marked:
            kinds[i] = "preamble" if i < marked[0] else "chatter" if i > marked[-1] else "meta"


def _count_kind(kind: str, counts: Counter[str]) -> bool:
    """Count a dropped kind; True when the item is a sample candidate."""
    if kind == "sample":
        return True
    if kind != "skip":
        counts[kind] += 1
    return False


def _filter(
    candidates: Sequence[_Line], counts: Counter[str], *, min_chars: int, max_chars: int
) -> list[str]:
    """Apply the length window and drop exact/normalised duplicates."""
    kept: list[str] = []
    seen: set[str] = set()
    for candidate in candidates:
        text = candidate.content
        key = normalise_for_match(text)
        if len(text) < min_chars:
            counts["too_short"] += 1
        elif len(text) > max_chars:
            counts["too_long"] += 1
        elif not key:
            counts["no_text"] += 1
        elif key in seen:
            counts["duplicate"] += 1
        else:
            seen.add(key)
            kept.append(text)
    return kept
