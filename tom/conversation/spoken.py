"""What TOM says, written the way a voice should read it: numbers, times, prices, phone numbers.

A TTS voice reads "0761 4589320" as a large number, "9–18 Uhr" as a subtraction and "z. B." as
letters. `spoken(text, language)` rewrites such text before synthesis (the transcript keeps the
written form): times ("9 bis 18 Uhr" → "neun bis achtzehn Uhr"), dates ("am 3. Mai" → "am
dritten Mai"), prices ("79,90 €" → "neunundsiebzig Euro neunzig"), phone numbers digit by digit in
their groups, postcodes digit by digit, house numbers, abbreviations. German is spelt out in words
(Pico reads digits poorly); English keeps plain numbers, which piper reads well, and fixes the rest.
Letters outside ASCII (umlauts, ß) pass through untouched.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tom.conversation.numbers import DIGIT_WORDS

_DE_ONES = ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun",
            "zehn", "elf", "zwölf", "dreizehn", "vierzehn", "fünfzehn", "sechzehn", "siebzehn",
            "achtzehn", "neunzehn")
_DE_TENS = ("", "", "zwanzig", "dreißig", "vierzig", "fünfzig", "sechzig", "siebzig", "achtzig",
            "neunzig")
_DE_MONTHS = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
              "Oktober", "November", "Dezember")
_DE_ORDINAL_IRREGULAR = {1: "erst", 3: "dritt", 7: "siebt", 8: "acht"}
_DE_DATIVE = ("am", "vom", "zum", "ab", "seit", "bis", "dem", "den")

ABBREVIATIONS = {
    "de": (("z. B.", "zum Beispiel"), ("z.B.", "zum Beispiel"), ("d. h.", "das heißt"),
           ("d.h.", "das heißt"), ("u. a.", "unter anderem"), ("bzw.", "beziehungsweise"),
           ("usw.", "und so weiter"), ("ca.", "circa"), ("inkl.", "inklusive"),
           ("zzgl.", "zuzüglich"), ("ggf.", "gegebenenfalls"), ("evtl.", "eventuell"),
           ("Tel.", "Telefon"), ("Nr.", "Nummer"), ("Str.", "Straße"),
           ("Std.", "Stunden"), ("Min.", "Minuten"), ("Mo.", "Montag"), ("Di.", "Dienstag"),
           ("Mi.", "Mittwoch"), ("Do.", "Donnerstag"), ("Fr.", "Freitag"), ("Sa.", "Samstag"),
           ("So.", "Sonntag"), ("Hr.", "Herr"), ("Fa.", "Firma"), ("&", "und")),
    "en": (("e.g.", "for example"), ("i.e.", "that is"), ("approx.", "approximately"),
           ("incl.", "including"), ("etc.", "et cetera"), ("Tel.", "phone"), ("No.", "number"),
           ("St.", "Street"), ("Rd.", "Road"), ("Mon.", "Monday"), ("Fri.", "Friday"),
           ("&", "and")),
}


def german_number(n: int, *, before_noun: bool = False) -> str:
    """0 to 999 999 in words ("einundzwanzig"); "ein" instead of a final "eins" before a noun."""
    if n >= 1_000_000 or n < 0:
        return spell_digits(str(abs(n)), "de")
    if n < 1000:
        words = _de_below_thousand(n)
    else:
        thousands, rest = divmod(n, 1000)
        words = ("ein" if thousands == 1 else _de_below_thousand(thousands)) + "tausend"
        words += _de_below_thousand(rest) if rest else ""
    if before_noun and words.endswith("eins"):
        words = words[:-1]
    return words


def _de_below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    words = ("ein" if hundreds == 1 else _DE_ONES[hundreds]) + "hundert" if hundreds else ""
    if rest or not hundreds:
        words += _de_below_hundred(rest)
    return words


def _de_below_hundred(n: int) -> str:
    if n < 20:
        return _DE_ONES[n]
    tens, ones = divmod(n, 10)
    if not ones:
        return _DE_TENS[tens]
    return ("ein" if ones == 1 else _DE_ONES[ones]) + "und" + _DE_TENS[tens]


def german_ordinal(n: int, ending: str = "e") -> str:
    """1 -> "erste", 3 -> "dritte", 20 -> "zwanzigste"; `ending` "en" gives "dritten"."""
    stem = _DE_ORDINAL_IRREGULAR.get(n) or german_number(n) + ("st" if n >= 20 else "t")
    return stem + ending


def german_year(n: int) -> str:
    """1999 -> "neunzehnhundertneunundneunzig", 2025 -> "zweitausendfünfundzwanzig"."""
    if 1100 <= n < 2000:
        hundreds, rest = divmod(n, 100)
        return german_number(hundreds) + "hundert" + (german_number(rest) if rest else "")
    return german_number(n)


def spell_digits(digits: str, language: str) -> str:
    """Digit by digit: "079" -> "null sieben neun" / "zero seven nine"."""
    names = DIGIT_WORDS.get(language, DIGIT_WORDS["en"])
    return " ".join(names[int(d)] for d in digits if d.isdigit())


# --- the patterns, in the order they are applied -----------------------------------------------
_NUM = r"\d{1,3}(?:\.\d{3})+|\d+"  # 1.250 or 1250 (a German thousands separator)
_PRICE_AFTER = re.compile(rf"(?<![\d,.])({_NUM})(?:,(\d{{2}}|-|–))?\s?(?:€|EUR\b|Euro\b)")
_PRICE_BEFORE = re.compile(rf"(?:€|EUR)\s?({_NUM})(?:[,.](\d{{2}}))?(?![\d])")
_DATE = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})?(?![\d])")
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})\.\s({'|'.join(_DE_MONTHS)})\b")
_CLOCK = re.compile(r"\b([01]?\d|2[0-3])[:.]([0-5]\d)(?:\s?(Uhr|h)\b)?")
_PHONE = re.compile(r"(?<![\w+])(\+\d{1,3}[ /-]?|0)(\d[\d /-]{4,}\d)\b")
_POSTCODE = re.compile(r"\b(\d{5})(?=\s+[A-ZÄÖÜ])")
_LONG_DIGITS = re.compile(r"\b\d{6,}\b")
_PERCENT = re.compile(r"(\d+(?:,\d+)?)\s?%")
_RANGE = re.compile(r"(?<=\d)\s?[–-]\s?(?=\d)")
_DECIMAL = re.compile(r"\b(\d+),(\d+)\b")
_HOUSE = re.compile(r"\b(\d{1,4})([a-z])\b")
_INTEGER = re.compile(rf"\b({_NUM})\b")


def _int(text: str) -> int:
    return int(text.replace(".", ""))


def _phone_groups(prefix: str, rest: str, language: str) -> str:
    """Each written group digit by digit; a group longer than four is said in threes and twos."""
    plus = "plus " if prefix.startswith("+") else ""
    digits = prefix.strip(" /-+") + (" " if prefix.strip(" /-+") else "") + rest
    if prefix == "0":
        digits = "0" + rest
    groups: list[str] = []
    for group in re.split(r"[ /-]+", digits.strip()):
        while len(group) > 4:
            take = 2 if len(group) == 5 else 3
            groups.append(group[:take])
            group = group[take:]
        if group:
            groups.append(group)
    return plus + ", ".join(spell_digits(g, language) for g in groups)


def _de_price(euros: str, cents: str | None) -> str:
    n = _int(euros)
    if cents in (None, "-", "–", "00"):
        return f"{german_number(n, before_noun=True)} Euro"
    assert cents is not None
    if n == 0:
        return f"{german_number(int(cents))} Cent"
    return f"{german_number(n, before_noun=True)} Euro {german_number(int(cents))}"


def _de_date(m: re.Match[str], text: str) -> str:
    day, month = int(m[1]), int(m[2])
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return m[0]
    before = text[: m.start()].split()
    ending = "en" if before and before[-1].lower() in _DE_DATIVE else "e"
    out = f"{german_ordinal(day, ending)} {_DE_MONTHS[month - 1]}"
    if m[3]:
        year = int(m[3]) + (2000 if len(m[3]) == 2 else 0)
        out += f" {german_year(year)}"
    return out


def _sub_with_text(pattern: re.Pattern[str], text: str,
                   fn: Callable[[re.Match[str], str], str]) -> str:
    return pattern.sub(lambda m: fn(m, text), text)


def _abbreviations(text: str, language: str) -> str:
    if language == "de":  # "Hauptstr." is part of a word
        text = re.sub(r"(?<=\w)str\.(?=\s|$|[,;:!?])", "straße", text)
    for short, full in ABBREVIATIONS.get(language, ()):
        text = re.sub(rf"(?<!\w){re.escape(short)}(?=\s|$|[,;:!?])", full, text)
    return text


def spoken_german(text: str) -> str:
    text = _abbreviations(text, "de")
    text = _PRICE_AFTER.sub(lambda m: _de_price(m[1], m[2]), text)
    text = _PRICE_BEFORE.sub(lambda m: _de_price(m[1], m[2]), text)
    text = _sub_with_text(_DATE, text, _de_date)
    text = _DAY_MONTH.sub(lambda m: _de_date_words(m, text), text)
    text = _CLOCK.sub(_de_clock, text)
    text = _PHONE.sub(lambda m: _phone_groups(m[1], m[2], "de"), text)
    text = _POSTCODE.sub(lambda m: spell_digits(m[1], "de"), text)
    text = _LONG_DIGITS.sub(lambda m: _phone_groups("", m[0], "de"), text)
    text = _PERCENT.sub(lambda m: f"{m[1]} Prozent", text)
    text = _RANGE.sub(" bis ", text)
    text = _DECIMAL.sub(lambda m: f"{german_number(int(m[1]))} Komma {spell_digits(m[2], 'de')}",
                        text)
    text = _HOUSE.sub(lambda m: f"{german_number(int(m[1]))} {m[2]}", text)
    text = _INTEGER.sub(lambda m: _de_integer(m, text), text)
    return text


def _de_date_words(m: re.Match[str], text: str) -> str:
    before = text[: m.start()].split()
    ending = "en" if before and before[-1].lower() in _DE_DATIVE else "e"
    return f"{german_ordinal(int(m[1]), ending)} {m[2]}"


def _de_clock(m: re.Match[str]) -> str:
    hour, minute = int(m[1]), int(m[2])
    said = f"{german_number(hour, before_noun=True)} Uhr"
    return said + (f" {german_number(minute)}" if minute else "")


def _de_integer(m: re.Match[str], text: str) -> str:
    n = _int(m[1])
    after = text[m.end():].lstrip()
    return german_number(n, before_noun=after[:1].isalpha() and after[:1].isupper())


def spoken_english(text: str) -> str:
    text = _abbreviations(text, "en")
    text = _PRICE_BEFORE.sub(lambda m: _en_price(m[1], m[2]), text)
    text = _PRICE_AFTER.sub(lambda m: _en_price(m[1], m[2]), text)
    text = _PHONE.sub(lambda m: _phone_groups(m[1], m[2], "en"), text)
    text = _POSTCODE.sub(lambda m: spell_digits(m[1], "en"), text)
    text = _LONG_DIGITS.sub(lambda m: _phone_groups("", m[0], "en"), text)
    text = _PERCENT.sub(lambda m: f"{m[1].replace(',', '.')} percent", text)
    text = _RANGE.sub(" to ", text)
    return text


def _en_price(euros: str, cents: str | None) -> str:
    n = _int(euros)
    unit = "euro" if n == 1 else "euros"
    if cents in (None, "-", "–", "00"):
        return f"{n} {unit}"
    return f"{n} {unit} {int(cents)}" if n else f"{int(cents)} cents"


def spoken(text: str, language: str) -> str:
    """`text` as TOM's voice should read it in `language` ("de" or "en"; others unchanged)."""
    if language == "de":
        return spoken_german(text)
    if language == "en":
        return spoken_english(text)
    return text
