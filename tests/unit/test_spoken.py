"""Text as TOM's voice reads it: numbers, times, prices, phone numbers, postcodes, abbreviations."""

from __future__ import annotations

import re
import unicodedata

import pytest

from tom.conversation.spoken import german_number, german_ordinal, german_year, spoken


@pytest.mark.parametrize(("n", "words"), [
    (0, "null"), (1, "eins"), (16, "sechzehn"), (21, "einundzwanzig"), (30, "dreißig"),
    (101, "einhunderteins"), (777, "siebenhundertsiebenundsiebzig"), (1000, "eintausend"),
    (79098, "neunundsiebzigtausendachtundneunzig")])
def test_german_numbers(n, words):
    assert german_number(n) == words


def test_german_ordinals_and_years():
    assert [german_ordinal(n) for n in (1, 3, 7, 12, 20)] == [
        "erste", "dritte", "siebte", "zwölfte", "zwanzigste"]
    assert german_ordinal(3, "en") == "dritten"
    assert german_year(1999) == "neunzehnhundertneunundneunzig"
    assert german_year(2025) == "zweitausendfünfundzwanzig"


@pytest.mark.parametrize(("text", "said"), [
    ("Am Samstag haben wir von 10 bis 14 Uhr geöffnet.",
     "Am Samstag haben wir von zehn bis vierzehn Uhr geöffnet."),
    ("Wir sind von 9–18 Uhr da.", "Wir sind von neun bis achtzehn Uhr da."),
    ("Also am Dienstag um 14:30 Uhr.", "Also am Dienstag um vierzehn Uhr dreißig."),
    ("Um 1 Uhr.", "Um ein Uhr."),
    ("Ein Platten kostet 15 Euro.", "Ein Platten kostet fünfzehn Euro."),
    ("Die Inspektion kostet 79,90 €.", "Die Inspektion kostet neunundsiebzig Euro neunzig."),
    ("Ein Ventil kostet 0,50 €.", "Ein Ventil kostet fünfzig Cent."),
    ("Die Telefonnummer ist 0761 4589320.",
     "Die Telefonnummer ist null sieben sechs eins, vier fünf acht, neun drei zwei null."),
    ("Rufen Sie +49 761 4589321 an.",
     "Rufen Sie plus vier neun, sieben sechs eins, vier fünf acht, neun drei zwei eins an."),
    ("Die Adresse ist Mühlenweg 7, 79098 Freiburg.",
     "Die Adresse ist Mühlenweg sieben, sieben neun null neun acht Freiburg."),
    ("Am 3. Mai und am 12.03.2025.", "Am dritten Mai und am zwölften März zweitausendfünfundzwanzig."),
    ("Das dauert z. B. ca. 2,5 Std.", "Das dauert zum Beispiel circa zwei Komma fünf Stunden"),
    ("Hauptstr. 12a, Nr. 21", "Hauptstraße zwölf a, Nummer einundzwanzig"),
    ("10 % Rabatt", "zehn Prozent Rabatt"),
])
def test_german_is_spoken_in_words(text, said):
    assert spoken(text, "de").rstrip(".") == said.rstrip(".")


@pytest.mark.parametrize(("text", "said"), [
    ("The phone number is 0761 4589320.",
     "The phone number is zero seven six one, four five eight, nine three two zero."),
    ("A full service costs €79.90.", "A full service costs 79 euros 90."),
    ("A flat is 15 €, e.g. today.", "A flat is 15 euros, for example today."),
    ("The address is Mühlenweg 7, 79098 Freiburg.",
     "The address is Mühlenweg 7, seven nine zero nine eight Freiburg."),
    ("We are open 9–18.", "We are open 9 to 18."),
])
def test_english_fixes_what_piper_stumbles_on(text, said):
    assert spoken(text, "en") == said


def test_every_profile_text_reads_without_digits_and_keeps_its_letters():
    from tom.conversation.profile import load_profile

    profile = load_profile(None, "de")
    for text in [*profile.facts, profile.greeting, profile.farewell]:
        said = spoken(text, "de")
        assert not re.search(r"\d", said), said
        assert unicodedata.is_normalized("NFC", said)
        for umlaut in "äöüÄÖÜß":  # no letter is lost or re-encoded (mojibake)
            assert said.count(umlaut) >= text.count(umlaut), (text, said)
        assert "Ã" not in said and "\ufffd" not in said


def test_other_languages_pass_through():
    assert spoken("Il est 9h30, 15 €.", "fr") == "Il est 9h30, 15 €."
