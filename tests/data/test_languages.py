"""Tests for benchmark.data.languages."""

from __future__ import annotations

import pytest

from benchmark.data.languages import LANGUAGES, Language, UnknownLanguageError, resolve_language

STUDY = ["en", "de", "th", "he", "id", "sw", "ro", "az", "sl", "te", "cy"]


def test_all_study_languages_present():
    assert list(LANGUAGES) == STUDY
    assert {c for c, lang in LANGUAGES.items() if lang.resource == "low"} == {
        "ro",
        "az",
        "sl",
        "te",
        "cy",
    }


@pytest.mark.parametrize(
    "code",
    [
        "sw",
        "SW",
        "sw-KE",
        "sw-ke",
        "sw_KE",
        "swh_Latn",
        "SWH_LATN",
        "swh-Latn",
        "swh",
        "Swahili",
        " sw ",
    ],
)
def test_accepted_code_forms(code):
    assert resolve_language(code).code == "sw"


@pytest.mark.parametrize("lang", LANGUAGES.values(), ids=STUDY)
def test_every_language_resolves_from_every_form(lang: Language):
    codes = (lang.code_for("massive60"), lang.code_for("sib200"))
    for form in (lang.code, *codes, lang.iso639_3, lang.name):
        assert resolve_language(form) is lang
        assert resolve_language(form.upper(), dataset="sib200") is lang


def test_mapping_matches_sources():
    pairs = {lang.code_for("sib200"): lang.code_for("massive10") for lang in LANGUAGES.values()}
    assert pairs == {
        "eng_Latn": "en-US", "deu_Latn": "de-DE", "tha_Thai": "th-TH", "heb_Hebr": "he-IL",
        "ind_Latn": "id-ID", "swh_Latn": "sw-KE", "ron_Latn": "ro-RO", "azj_Latn": "az-AZ",
        "slv_Latn": "sl-SL", "tel_Telu": "te-IN", "cym_Latn": "cy-GB",
    }  # fmt: skip


def test_code_for_dataset():
    sw = resolve_language("sw")
    assert sw.code_for("massive10") == "sw-KE"
    assert sw.code_for("massive60") == "sw-KE"
    assert sw.code_for("sib200") == "swh_Latn"
    assert sw.code_for("sentiment") == "sw"


def test_unknown_code_error_lists_codes_and_close_matches():
    with pytest.raises(UnknownLanguageError) as info:
        resolve_language("sw-TZ")
    message = str(info.value)
    assert "'sw-TZ'" in message
    assert "known codes: en, de, th, he, id, sw, ro, az, sl, te, cy" in message
    assert "did you mean" in message and "'sw-KE'" in message


def test_unknown_code_error_uses_dataset_codes():
    with pytest.raises(UnknownLanguageError) as info:
        resolve_language("swh_Latm", dataset="sib200")
    message = str(info.value)
    assert "for sib200" in message and "swh_Latn" in message and "cym_Latn" in message


def test_unknown_code_without_close_match_and_is_value_error():
    with pytest.raises(ValueError, match="unknown language 'klingon'") as info:
        resolve_language("klingon")
    assert "did you mean" not in str(info.value)
