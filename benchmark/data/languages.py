"""The benchmark's languages and the codes each dataset uses for them.

One `Language` per study language; `resolve_language` accepts any of its codes
(`sw`, `sw-KE`, `sw_ke`, `swh_Latn`, `swh`, `Swahili`), case-insensitively.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

ResourceLevel = Literal["high", "low"]


@dataclass(frozen=True)
class Language:
    """One benchmark language and its codes.

    Attributes:
        code: short ISO 639-1 code (`sw`); also what `py3langid` predicts.
        name: English name (`Swahili`), used in prompts.
        massive: MASSIVE locale (`sw-KE`).
        sib200: SIB-200 / FLORES-200 code (`swh_Latn`).
        script: ISO 15924 script (`Latn`).
        iso639_3: ISO 639-3 code of the individual language (`swh`), as used by
            FLORES-style language-id models.
        resource: `high` (the study's mid/high-resource group) or `low`.
        aliases: further accepted spellings (macro-language codes, real locales).
    """

    code: str
    name: str
    massive: str
    sib200: str
    script: str
    iso639_3: str
    resource: ResourceLevel
    aliases: tuple[str, ...] = ()

    def code_for(self, dataset: str) -> str:
        """The code a dataset's files use for this language.

        Args:
            dataset: a dataset name (`massive10`, `massive60`, `sib200`, `sentiment` ...).

        Returns:
            The MASSIVE locale for MASSIVE datasets, the SIB-200 code for SIB-200,
            else the short code.
        """
        kind = _dataset_kind(dataset)
        if kind == "massive":
            return self.massive
        if kind == "sib200":
            return self.sib200
        return self.code

    def accepted_codes(self) -> tuple[str, ...]:
        """Every spelling `resolve_language` maps to this language (lower-cased).

        Returns:
            The short code, locale and SIB-200 code (each with `-` or `_`), ISO 639-3 code,
            English name and aliases.
        """
        forms = (
            self.code,
            self.massive,
            self.massive.replace("-", "_"),
            self.sib200,
            self.sib200.replace("_", "-"),
            self.iso639_3,
            self.name,
            *self.aliases,
        )
        return tuple(dict.fromkeys(form.lower() for form in forms))


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en", "English", "en-US", "eng_Latn", "Latn", "eng", "high"),
        Language("de", "German", "de-DE", "deu_Latn", "Latn", "deu", "high"),
        Language("th", "Thai", "th-TH", "tha_Thai", "Thai", "tha", "high"),
        Language("he", "Hebrew", "he-IL", "heb_Hebr", "Hebr", "heb", "high", ("iw",)),
        Language("id", "Indonesian", "id-ID", "ind_Latn", "Latn", "ind", "high"),
        Language("sw", "Swahili", "sw-KE", "swh_Latn", "Latn", "swh", "high", ("swa",)),
        Language("ro", "Romanian", "ro-RO", "ron_Latn", "Latn", "ron", "low"),
        Language("az", "Azerbaijani", "az-AZ", "azj_Latn", "Latn", "azj", "low", ("aze",)),
        Language("sl", "Slovenian", "sl-SL", "slv_Latn", "Latn", "slv", "low", ("sl-si",)),
        Language("te", "Telugu", "te-IN", "tel_Telu", "Telu", "tel", "low"),
        Language("cy", "Welsh", "cy-GB", "cym_Latn", "Latn", "cym", "low"),
    )
}

_BY_FORM: dict[str, Language] = {
    form: lang for lang in LANGUAGES.values() for form in lang.accepted_codes()
}


class UnknownLanguageError(ValueError):
    """A language code that names none of the benchmark's languages."""


def _dataset_kind(dataset: str | None) -> str | None:
    if dataset is None:
        return None
    name = dataset.lower()
    if name.startswith("massive"):
        return "massive"
    if name.startswith("sib"):
        return "sib200"
    return name


def resolve_language(code: str, *, dataset: str | None = None) -> Language:
    """Find the benchmark language a code names.

    Args:
        code: a short code (`sw`), MASSIVE locale (`sw-KE` or `sw_KE`), SIB-200 code
            (`swh_Latn`), ISO 639-3 code (`swh`) or English name; case-insensitive.
        dataset: the dataset the code is meant for; only changes which code forms
            the error message lists.

    Returns:
        The matching `Language`.

    Raises:
        UnknownLanguageError: no benchmark language has that code; the message
            lists the known codes and the closest matches.
    """
    key = str(code).strip().lower()
    found = _BY_FORM.get(key)
    if found is not None:
        return found
    raise UnknownLanguageError(_unknown_message(str(code), dataset))


def _unknown_message(code: str, dataset: str | None) -> str:
    close = difflib.get_close_matches(code.strip().lower(), list(_BY_FORM), n=3, cutoff=0.6)
    suggestions = list(
        dict.fromkeys(_display_form(_BY_FORM[form], form, dataset) for form in close)
    )
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
    for original in (lang.code, lang.massive, lang.sib200, lang.iso639_3, lang.name):
        if original.lower() == form:
            return original
    return lang.code_for(dataset) if dataset else lang.code
