"""The benchmark's languages; the codes each dataset's files use for them come from the dataset
registry (`benchmark.data.examples.DATASETS`, each entry's `languages`).

One `Language` per study language; `resolve_language` accepts any of its codes
(`sw`, `sw-KE`, `sw_ke`, `swh_Latn`, `swh`, `Swahili`), case-insensitively: its own, and the
codes every registered dataset's files use for it.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from typing import Literal

from benchmark.data.examples import DATASETS

ResourceLevel = Literal["high", "low"]


@dataclass(frozen=True)
class Language:
    """One benchmark language and its codes.

    Attributes:
        code: short ISO 639-1 code (`sw`); also what `py3langid` predicts.
        name: English name (`Swahili`), used in prompts.
        script: ISO 15924 script (`Latn`).
        iso639_3: ISO 639-3 code of the individual language (`swh`), as used by
            FLORES-style language-id models.
        resource: `high` (the study's mid/high-resource group) or `low`.
        aliases: further accepted spellings (macro-language codes, real locales).
    """

    code: str
    name: str
    script: str
    iso639_3: str
    resource: ResourceLevel
    aliases: tuple[str, ...] = ()

    def code_for(self, dataset: str) -> str:
        """The code a dataset's files use for this language.

        Args:
            dataset: a dataset name (`massive10`, `massive60`, `sib200`, `sentiment` ...).

        Returns:
            What the dataset's registry entry gives (the MASSIVE locale `sw-KE`, the SIB-200
            code `swh_Latn`), else the short code.
        """
        if dataset not in DATASETS:
            return self.code
        return DATASETS.get(dataset).file_code(self.code)

    def dataset_codes(self) -> tuple[str, ...]:
        """The codes the registered datasets' files use for this language, each once."""
        return tuple(dict.fromkeys(self.code_for(name) for name in DATASETS))

    def accepted_codes(self) -> tuple[str, ...]:
        """Every spelling `resolve_language` maps to this language (lower-cased).

        Returns:
            The short code, every dataset's code (each with `-` or `_`), ISO 639-3 code,
            English name and aliases.
        """
        spelled = [(c, c.replace("-", "_"), c.replace("_", "-")) for c in self.dataset_codes()]
        forms = (self.code, *(form for forms in spelled for form in forms))
        forms += (self.iso639_3, self.name, *self.aliases)
        return tuple(dict.fromkeys(form.lower() for form in forms))


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en", "English", "Latn", "eng", "high"),
        Language("de", "German", "Latn", "deu", "high"),
        Language("th", "Thai", "Thai", "tha", "high"),
        Language("he", "Hebrew", "Hebr", "heb", "high", ("iw",)),
        Language("id", "Indonesian", "Latn", "ind", "high"),
        Language("sw", "Swahili", "Latn", "swh", "high", ("swa",)),
        Language("ro", "Romanian", "Latn", "ron", "low"),
        Language("az", "Azerbaijani", "Latn", "azj", "low", ("aze",)),
        Language("sl", "Slovenian", "Latn", "slv", "low", ("sl-si",)),
        Language("te", "Telugu", "Telu", "tel", "low"),
        Language("cy", "Welsh", "Latn", "cym", "low"),
    )
}


class UnknownLanguageError(ValueError):
    """A language code that names none of the benchmark's languages."""


def _by_form() -> dict[str, Language]:
    """Every accepted spelling -> its language, for the datasets registered now."""
    return _forms(tuple(DATASETS.names()))


@functools.lru_cache(maxsize=8)
def _forms(datasets: tuple[str, ...]) -> dict[str, Language]:
    return {form: lang for lang in LANGUAGES.values() for form in lang.accepted_codes()}


def resolve_language(code: str, *, dataset: str | None = None) -> Language:
    """Find the benchmark language a code names.

    Args:
        code: a short code (`sw`), MASSIVE locale (`sw-KE` or `sw_KE`), SIB-200 code
            (`swh_Latn`), any other registered dataset's code, ISO 639-3 code (`swh`) or
            English name; case-insensitive.
        dataset: the dataset the code is meant for; only changes which code forms
            the error message lists.

    Returns:
        The matching `Language`.

    Raises:
        UnknownLanguageError: no benchmark language has that code; the message
            lists the known codes and the closest matches.
    """
    key = str(code).strip().lower()
    found = _by_form().get(key)
    if found is not None:
        return found
    raise UnknownLanguageError(_unknown_message(str(code), dataset))


def _unknown_message(code: str, dataset: str | None) -> str:
    forms = _by_form()
    close = difflib.get_close_matches(code.strip().lower(), list(forms), n=3, cutoff=0.6)
    suggestions = list(dict.fromkeys(_display_form(forms[form], form, dataset) for form in close))
    known = ", ".join(
        lang.code_for(dataset) if dataset else lang.code for lang in LANGUAGES.values()
    )
    where = f" for {dataset}" if dataset else ""
    message = f"unknown language {code!r}{where}; known codes: {known}"
    if suggestions:
        message += f"; did you mean {', '.join(repr(s) for s in suggestions)}?"
    return message


def _display_form(lang: Language, form: str, dataset: str | None) -> str:
    """The matched code spelled as the language defines it (`sw-KE`, not `sw-ke`)."""
    for original in (lang.code, *lang.dataset_codes(), lang.iso639_3, lang.name):
        if original.lower() == form:
            return original
    return lang.code_for(dataset) if dataset else lang.code
