"""The number guard: numbers found in text, and the sentences it lets through or catches."""

from __future__ import annotations

import pytest

from tom.conversation.guard import NumberGuard, digitize, find_numbers, speakable
from tom.conversation.profile import load_profile


def keys(text: str) -> set[str]:
    return set().union(*(m.keys for m in find_numbers(text)))


@pytest.fixture(scope="module")
def guard() -> NumberGuard:
    return NumberGuard(load_profile(None, "en").facts)


@pytest.fixture(scope="module")
def guard_de() -> NumberGuard:
    return NumberGuard(load_profile(None, "de").facts)


# --- finding numbers ---------------------------------------------------------------------------
@pytest.mark.parametrize("form", ["9 am", "9:00", "09:00", "nine o'clock", "9 a.m.", "neun Uhr",
                                  "9.00 Uhr"])
def test_time_forms_agree(form: str) -> None:
    assert "t09:00" in keys(f"we open at {form}")


def test_pm_and_24h_agree_but_am_is_not_pm() -> None:
    assert "t18:00" in keys("until 6 pm") and "t18:00" in keys("bis 18 Uhr")
    assert "t18:00" not in keys("at 6 am")


@pytest.mark.parametrize(("text", "key"), [
    ("it costs 15 euros", "m15"), ("€15", "m15"), ("fifteen euros", "m15"), ("15,00 €", "m15"),
    ("fünfzehn Euro", "m15"), ("€ 15.50", "m15.5"),
    ("half past nine", "t09:30"), ("halb zehn", "t09:30"), ("viertel nach zehn", "t10:15"),
    ("on 24.12.", "d12-24"), ("the 3rd of May", "d05-03"), ("May 3rd", "d05-03"),
    ("3. Mai", "d05-03"), ("10 percent", "pc10"),
])
def test_kinds_of_numbers(text: str, key: str) -> None:
    assert key in keys(text)


def test_phone_numbers_match_across_formats() -> None:
    local, international = keys("0761 4589320"), keys("+49 761 458 9320")
    assert local & international
    assert not keys("0761 4589329") & local


def test_one_as_a_pronoun_is_not_a_number() -> None:
    assert find_numbers("the red one is fine, one moment please") == []
    assert find_numbers("one euro")


def test_digitize_keeps_the_rest_of_the_sentence() -> None:
    assert digitize("We open at nine and close at six pm.") == "we open at 9 and close at 6 pm."


# --- the guard ---------------------------------------------------------------------------------
@pytest.mark.parametrize("sentence", [
    "We're open from 9 to 6 on weekdays.", "On Saturday we open at ten and close at two.",
    "A flat costs 15 euros.", "Our number is 0761 4589320.", "A full service takes two days.",
    "There are 2 parking spaces.", "The warranty is 6 months.", "We open at 9:00.",
    "Call us on +49 761 4589320.", "Yes, we repair e-bikes.",
])
def test_backed_sentences_pass(guard: NumberGuard, sentence: str) -> None:
    assert guard.invented(sentence) == []


@pytest.mark.parametrize(("sentence", "bad"), [
    ("We close at 7 pm.", "7 pm"), ("A flat costs 17 euros.", "17 euros"),
    ("Our number is 0761 4589329.", "0761 4589329"), ("We have an 18-inch wheel.", "18"),
    ("We have been open for 20 years.", "20"), ("A service takes three days.", "3"),
    ("We're open twenty four hours.", "24"), ("Come on the 5th of June.", "5th of june"),
])
def test_invented_numbers_are_caught(guard: NumberGuard, sentence: str, bad: str) -> None:
    assert [m.text for m in guard.invented(sentence)] == [bad]


def test_german_sentences(guard_de: NumberGuard) -> None:
    assert guard_de.invented("Samstags haben wir von zehn bis vierzehn Uhr offen.") == []
    assert guard_de.invented("Eine große Inspektion kostet neunundachtzig Euro.") == []
    assert [m.text for m in guard_de.invented("Das kostet 99 Euro.")] == ["99 euro"]


def test_the_callers_own_numbers_may_be_repeated() -> None:
    g = NumberGuard(load_profile(None).facts)
    assert g.invented("We are not open at 7 pm.")
    g.allow("are you open at seven")
    assert g.invented("We are not open at 7 pm.") == []
    g.allow("my wheel is twenty eight inch")
    assert g.invented("Tubes for 28 inch wheels are in stock.") == []


def test_speakable_strips_markdown() -> None:
    assert speakable("**Opening hours:** see https://example.org") == "Opening hours: see"
    assert speakable("- We repair *all* bikes.") == "We repair all bikes."
    assert speakable("1. First point") == "First point"
    assert speakable("Grüße aus dem Mühlenweg") == "Grüße aus dem Mühlenweg"


def test_german_hour_range_backs_both_ends():
    from tom.conversation.guard import NumberGuard

    guard = NumberGuard(["Montag bis Freitag von 9 bis 18 Uhr geöffnet."])
    assert guard.invented("Wir öffnen um 9 Uhr.") == []
    assert guard.invented("Wir schließen um 18 Uhr.") == []
    assert guard.invented("Wir öffnen um 7 Uhr.") != []
