"""Number words, English and German: the one reader behind the guard, call-back and bench WER."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tom.conversation.numbers import (
    numbers_to_digits,
    ordinal_value,
    parse_cardinal,
    spell_digits,
    spoken_digits,
    word_value,
)


# --- cardinals -----------------------------------------------------------------------------
@pytest.mark.parametrize(("words", "value"), [
    ("twenty five", 25), ("one hundred and twenty", 120), ("two thousand five hundred", 2500),
    ("two thousand twenty five", 2025), ("nineteen hundred and five", 1905),
    ("vierunddreißig", 34), ("zweihundertfünfzig", 250), ("zwölf", 12), ("zwo", 2),
    ("zweitausendfünfundzwanzig", 2025), ("eintausendeins", 1001), ("hundertundeins", 101),
    ("zwei tausend", 2000), ("thousand", 1000), ("twenty-five", 25), ("twentyfive", 25),
])
def test_cardinals(words: str, value: int) -> None:
    parsed = parse_cardinal(words.split(), 0)
    assert parsed == (value, len(words.split()))


def test_digit_sequences_stay_separate() -> None:
    assert parse_cardinal("five five".split(), 0) == (5, 1)
    assert parse_cardinal("twenty zero five".split(), 0) == (20, 1)
    assert parse_cardinal("twelve thirty four".split(), 0) == (12, 1)
    assert word_value("banana") is None


def test_german_puts_units_before_tens_so_tens_then_unit_are_two_numbers() -> None:
    assert parse_cardinal("vierzig zwei".split(), 0) == (40, 1)
    assert parse_cardinal("forty two".split(), 0) == (42, 2)


@pytest.mark.parametrize("word", ["ein", "eine", "einen", "und", "hundertund", "einsundzwanzig",
                                  "achtung", "elfen"])
def test_german_words_that_are_not_numbers(word: str) -> None:
    assert word_value(word) is None


def test_language_picks_the_words() -> None:
    assert word_value("elf") == 11 and word_value("elf", "de") == 11
    assert word_value("elf", "en") is None and word_value("null", "en") is None
    assert word_value("seven", "de") is None and word_value("seven", "en") == 7
    assert word_value("sieben", "fr") is None


# --- ordinals ------------------------------------------------------------------------------
@pytest.mark.parametrize(("word", "language", "value"), [
    ("third", "en", 3), ("twelfth", "en", 12), ("thirtieth", "en", 30), ("ersten", "de", 1),
    ("dritten", "de", 3), ("siebte", "de", 7), ("zweiten", "de", 2), ("elfte", "de", 11),
    ("einundzwanzigsten", "de", 21), ("dreissigsten", "de", 30), ("hundertste", "de", 100),
])
def test_ordinals(word: str, language: str, value: int) -> None:
    assert ordinal_value(word, language) == value
    assert word_value(word, language) is None


def test_ordinals_only_when_asked_and_they_end_the_number() -> None:
    assert parse_cardinal(["third"], 0) is None
    assert parse_cardinal("twenty first of may".split(), 0, "en", ordinals=True) == (21, 2)
    assert parse_cardinal("one hundred and first".split(), 0, "en", ordinals=True) == (101, 4)


def test_numbers_to_digits_keeps_other_words() -> None:
    text = "on the twenty first of may at nine thirty and one hundred and five"
    assert numbers_to_digits(text.split(), "en") == \
        "on the 21 of may at 9 30 and 105".split()
    assert numbers_to_digits("am dritten märz um neun uhr eine frage".split(), "de") == \
        "am 3 märz um 9 uhr eine frage".split()
    assert numbers_to_digits("one hundred and".split(), "en") == ["100", "and"]


# --- phone digits --------------------------------------------------------------------------
@pytest.mark.parametrize(("said", "digits"), [
    ("zero one seven six, one two three four", "01761234"),
    ("oh seven six one double four five", "0761445"),
    ("null sieben sechs eins vier fünf acht", "0761458"),
    ("plus four nine seven six one", "+49761"),
    ("0176 123 45 67", "01761234567"),
    ("my number is five five five twelve thirty four", "5551234"),
    ("twenty zero five", "2005"),
    ("null sieben sechs eins, vierzig zwei", "0761402"),
])
def test_spoken_digits(said: str, digits: str) -> None:
    assert spoken_digits(said) == digits


@given(st.from_regex(r"\+?[0-9]{5,15}", fullmatch=True), st.sampled_from(["en", "de"]))
def test_read_back_digits_are_heard_as_the_same_number(digits: str, language: str) -> None:
    assert spoken_digits(spell_digits(digits, language)) == digits


def test_read_back_groups_digits_for_the_voice() -> None:
    assert spell_digits("0761458932", "en") == \
        "zero seven six, one four five, eight nine three two"
    assert spell_digits("07614", "de") == "null sieben sechs, eins vier"
