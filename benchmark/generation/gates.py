"""Quality gates: cheap checks that drop a generated sample before revision, with a reason.

A gate set is named in task files as `none` or gate names joined by `+` (`language+chatter`).
Gated samples never reach the LLM revision, are stored with status `gated` and a reason
`gate:<name>: ...`, and do not count toward a label's quota. Gates are off by default: the
reference study keeps every parsed sample.

- `language`: the target language is among py3langid's top `max_rank` languages, py3langid's
  first guess is not English (`reject_first`, unless English is the target) AND at least
  `min_lexical_share` of the sample's words occur in the language's gold train vocabulary
  (`train_vocabulary`: every local train split of the language, never dev or test). For
  scripts written without spaces (Thai) the units are character trigrams instead of words.
  The defaults come from gold dev sentences (see `measure/gate_rates.py`): py3langid's top-1
  alone drops 20% of real Indonesian MASSIVE dev utterances (as Malay) and 11% of Slovenian (as
  Croatian/Serbian); the top 4 (first guess not English) keep >= 96.8% of every language's and
  let <= 0.2% of English through; a share of 0.4 keeps >= 95% of the dev sentences of every
  language (the lowest, 96%, is Hebrew SIB-200).
- `chatter`: assistant or meta talk ("Sure, here are", "As an AI", "I'm ready to help"),
  instruction restatements (the label id, "the class", "one example per line"), code and
  markdown, and samples that are only URLs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regex

from benchmark.case.spec import GateSetSpec
from benchmark.data.languages import Language, resolve_language
from benchmark.data.loaders import DATASETS, load_split

NONE = "none"
LANGUAGE_MAX_RANK = 4
# py3langid first guesses that always drop (unless the target): English is the prompts' language
# and most off-language samples of small models are English.
REJECT_FIRST = ("en",)
MIN_LEXICAL_SHARE = 0.4
CHAR_NGRAM = 3
CHATTER_VERSION = "chatter-v1"
# ISO 15924 scripts written without spaces between words: lexical units are character n-grams.
SCRIPTS_WITHOUT_SPACES = frozenset({"Thai", "Laoo", "Khmr", "Mymr", "Tibt", "Hani", "Jpan"})

_WORD = regex.compile(r"[\p{L}\p{M}]+")


@dataclass(frozen=True)
class Verdict:
    """A gate's decision on one sample."""

    keep: bool
    reason: str = ""


# -- lexical validity ------------------------------------------------------------------------


def lexical_units(text: str, *, char_ngrams: bool = False, n: int = CHAR_NGRAM) -> list[str]:
    """Lower-cased word tokens (runs of Unicode letters and marks; digits and punctuation
    dropped), or the character n-grams inside each such run when `char_ngrams`."""
    words = _WORD.findall(text.lower())
    if not char_ngrams:
        return words
    return [w[i : i + n] for w in words for i in range(max(1, len(w) - n + 1))]


@dataclass(frozen=True)
class Vocabulary:
    """The lexical units of a language's gold train texts."""

    language: str
    units: frozenset[str]
    char_ngrams: bool
    sources: tuple[str, ...]

    def share(self, text: str) -> float | None:
        """Share of the text's units found in the vocabulary; None when it has no units."""
        units = lexical_units(text, char_ngrams=self.char_ngrams)
        if not units:
            return None
        return sum(u in self.units for u in units) / len(units)


def vocabulary_datasets() -> tuple[str, ...]:
    """The datasets whose train split the language gate reads (each registry entry's
    `vocabulary`), in registration order: the full MASSIVE train file and SIB-200 train."""
    return tuple(name for name in DATASETS if DATASETS.get(name).vocabulary)


def uses_char_ngrams(language: Language) -> bool:
    """Whether the language's script is written without spaces between words."""
    return language.script in SCRIPTS_WITHOUT_SPACES


@functools.lru_cache(maxsize=16)
def train_vocabulary(language: str, *, data_dir: Path | str | None = None) -> Vocabulary:
    """The vocabulary of every gold train split of a language found in the data directory.

    Reads the train split of each of `vocabulary_datasets()` that exists (the full MASSIVE train
    file and SIB-200 train), never dev or test.

    Raises:
        FileNotFoundError: no train split of the language was found.
    """

    lang = resolve_language(language)
    ngrams = uses_char_ngrams(lang)
    units: set[str] = set()
    sources = []
    for dataset in vocabulary_datasets():
        try:
            split = load_split(dataset, lang.code, "train", data_dir=data_dir)
        except FileNotFoundError:
            continue
        sources.append(split.fingerprint)
        for example in split.examples:
            units.update(lexical_units(example.text, char_ngrams=ngrams))
    if not sources:
        raise FileNotFoundError(f"no gold train split of {lang.code} under {data_dir}")
    return Vocabulary(lang.code, frozenset(units), ngrams, tuple(sources))


def vocabulary_or_none(language: str, *, data_dir: Path | str | None = None) -> Vocabulary | None:
    """`train_vocabulary`, or None when no train split of the language can be read."""
    try:
        return train_vocabulary(language, data_dir=data_dir)
    except OSError:
        return None


def lexical_validity(texts: Sequence[str], vocabulary: Vocabulary) -> float:
    """Mean share of units in the vocabulary over the texts (a text without units counts 0)."""
    if not texts:
        return 0.0
    return sum(vocabulary.share(t) or 0.0 for t in texts) / len(texts)


# -- gates -----------------------------------------------------------------------------------


class LanguageGate:
    """Keeps a sample when language ID and the gold train vocabulary both say target language."""

    name = "language"

    def __init__(
        self,
        language: Language,
        vocabulary: Vocabulary,
        *,
        max_rank: int = LANGUAGE_MAX_RANK,
        min_lexical_share: float = MIN_LEXICAL_SHARE,
        reject_first: Sequence[str] = REJECT_FIRST,
    ):
        self.language, self.vocabulary = language, vocabulary
        self.max_rank, self.min_lexical_share = max_rank, min_lexical_share
        self.reject_first = tuple(code for code in reject_first if code != language.code)

    def check(self, text: str, label: str = "") -> Verdict:
        import py3langid

        ranked = [code for code, _ in py3langid.rank(text)[: self.max_rank]]
        if ranked[0] in self.reject_first:
            return Verdict(False, f"language ID first guess is {ranked[0]}")
        if self.language.code not in ranked:
            return Verdict(False, f"language ID top {self.max_rank} is {'/'.join(ranked)}")
        share = self.vocabulary.share(text)
        if share is None:
            return Verdict(False, "no words")
        if share < self.min_lexical_share:
            unit = "character trigrams" if self.vocabulary.char_ngrams else "words"
            return Verdict(
                False,
                f"{share:.0%} of {unit} in the gold train vocabulary (< {self.min_lexical_share:.0%})",
            )
        return Verdict(True)


# Assistant talk and instruction restatements, in English and a few study languages. Phrases a
# user says to an assistant ("let me know the time") are real MASSIVE utterances: not listed.
_CHATTER_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        "assistant opener",
        r"^\W*(sure|certainly|of course|absolutely|gerne|natürlich|wrth gwrs|tentu|desigur|"
        r"seveda|əlbəttə)\s*[,!.:]",
    ),
    (
        "here are / here is",
        r"^\W*(here\s+(is|are)|here's|below\s+(is|are)|the following\s+(is|are|examples?|"
        r"sentences?|list)|hier\s+sind|hizi\s+hapa|hapa\s+kuna|dyma\s+rai|berikut\s+(ini|adalah)|"
        r"iată\s+(câteva|\d+))\b",
    ),
    (
        "assistant talk",
        r"\b(as an ai|ai assistant|language model|i('m| am) (ready|happy|glad|here) to (help|assist)|"
        r"i('m| am) ready (now|to start)|i('d| would| will|'ll) be (happy|glad) to|"
        r"how can i (help|assist)|let me know if you|feel free to|i hope (this|these) helps?|"
        r"i can('t|not) (help|assist)|what('s| is) (your|the) (task|next question)|your response|"
        r"ich helfe (dir|ihnen) gerne)\b",
    ),
    (
        "talks about examples",
        r"\b(\d+|new|more|some|these|following|varied|different|another|generated|modified)\s+"
        r"(examples?|sentences?|samples?|utterances?)\b|"
        r"^\W*(examples?|sentences?|samples?)(\s+(\d+|[a-z]|list|example))?\s*([:.\-]|$)|"
        r"\b(examples?|sentences?|samples?) (of|for|in) (the |this )?(class|category|intent|label|"
        r"topic)\b|\b(the sentence (below|above)|this sentence|beispiele|beispielsätze|mifano|"
        r"enghreifftiau|contoh-contoh|exemplele|primeri|nümunələr)\b",
    ),
    (
        "restates the instruction",
        r"\b(text classification|classification dataset|one example (on each|per) line|"
        r"numbering|do not (repeat|copy|translate)|these instructions|"
        r"(the|this) (class|label|intent) (is|means)|(write|generate|create) (\d+ )?"
        r"(new )?(examples?|sentences?))\b|\bclass\s*[\"“'(]",
    ),
    (
        "code or markdown",
        r"```|^\s*#{1,6}\s|\*\*[^*]+\*\*|\bdef \w+\(|\bprint\(|\bconsole\.log|\bimport \w+|"
        r"\breturn\b.*;|[{};]\s*$|^\s*[{}\[\]]|===|!==|&&|\|\||=>|</?\w+>|^\s*\|.*\|\s*$|"
        r"\bfunction\s*\(|\bvar \w+\s*=|\bconst \w+\s*=|\bself\.\w+|\w+_\w+\(|^\s*//",
    ),
)
_COMPILED = tuple((why, re.compile(p, re.IGNORECASE)) for why, p in _CHATTER_PATTERNS)
_URL = re.compile(r"(https?://|www\.)\S+|\S+@\S+\.\w+", re.IGNORECASE)


class ChatterGate:
    """Drops assistant/meta talk, instruction restatements, code/markdown and URL-only samples."""

    name = "chatter"

    def __init__(self, language: Language | None = None):
        self.language = language

    def check(self, text: str, label: str = "") -> Verdict:
        for why, pattern in _COMPILED:
            found = pattern.search(text)
            if found:
                return Verdict(False, f"{why} ({found.group(0).strip()[:40]!r})")
        if label and ("_" in label or "/" in label) and label.lower() in text.lower():
            return Verdict(False, f"names the label id {label!r}")
        if _URL.search(text) and not _WORD.search(_URL.sub(" ", text)):
            return Verdict(False, "only URLs or e-mail addresses")
        return Verdict(True)


GATES: dict[str, str] = {
    "language": "target language by py3langid (top ranks) and the gold train vocabulary",
    "chatter": "assistant/meta talk, instruction restatements, code, markdown, URL-only",
}


def parse_gate_set(entry: str) -> tuple[str, ...]:
    """`language+chatter` -> ("language", "chatter"); `none` -> ().

    Raises:
        ValueError: an unknown or repeated gate name.
    """
    if entry.strip() == NONE:
        return ()
    names = tuple(part.strip() for part in entry.split("+"))
    unknown = [n for n in names if n not in GATES]
    if unknown:
        raise ValueError(f"unknown gate {unknown[0]!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"gate repeated in {entry!r}")
    return names


def gate_spec(entry: str) -> GateSetSpec | None:
    """The case-spec value of a gate set: its names and every parameter that changes what it
    drops (so the case's hash changes with them); None for `none`."""
    names = parse_gate_set(entry)
    if not names:
        return None
    params: dict[str, dict[str, Any]] = {
        "language": {
            "max_rank": LANGUAGE_MAX_RANK,
            "reject_first": list(REJECT_FIRST),
            "min_lexical_share": MIN_LEXICAL_SHARE,
            "char_ngram": CHAR_NGRAM,
            "vocabulary": list(vocabulary_datasets()),
        },
        "chatter": {"version": CHATTER_VERSION},
    }
    return GateSetSpec.of({"names": list(names), **{name: params[name] for name in names}})


Gate = LanguageGate | ChatterGate


def build_gates(
    spec: GateSetSpec | None, language: str | Language, *, data_dir: Path | str | None = None
) -> list[Gate]:
    """The gates of a case-spec gate set, ready to check samples."""
    if not spec:
        return []
    lang = language if isinstance(language, Language) else resolve_language(language)
    gates: list[Gate] = []
    for name in spec.names:
        if name == "language":
            opts = spec.language
            gates.append(
                LanguageGate(
                    lang,
                    train_vocabulary(lang.code, data_dir=data_dir),
                    max_rank=opts.max_rank,
                    min_lexical_share=opts.min_lexical_share,
                    reject_first=opts.reject_first,
                )
            )
        elif name == "chatter":
            gates.append(ChatterGate(lang))
        else:
            raise ValueError(f"unknown gate {name!r}")
    return gates


def failed_gates(gates: Iterable[Gate], text: str, label: str = "") -> list[tuple[str, str]]:
    """(gate name, reason) of every gate that drops the text (all are checked, so each gate's
    count says what it catches on its own)."""
    out = []
    for gate in gates:
        verdict = gate.check(text, label)
        if not verdict.keep:
            out.append((gate.name, verdict.reason))
    return out
