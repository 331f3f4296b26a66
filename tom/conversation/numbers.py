"""Number words in English and German: to values, to phone digits, and back to speakable digits.

Callers say numbers as words ("five five five", "null sieben sechs eins", "double two"); STT
writes them either way. The guard and the call-back flow both need the value behind the words.
"""

from __future__ import annotations

import re

UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9,
    "null": 0, "eins": 1, "zwei": 2, "zwo": 2, "drei": 3, "vier": 4, "fünf": 5, "fuenf": 5,
    "sechs": 6, "sieben": 7, "acht": 8, "neun": 9,
}
TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "zehn": 10, "elf": 11, "zwölf": 12, "zwoelf": 12, "dreizehn": 13, "vierzehn": 14,
    "fünfzehn": 15, "fuenfzehn": 15, "sechzehn": 16, "siebzehn": 17, "achtzehn": 18,
    "neunzehn": 19,
}
TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
    "zwanzig": 20, "dreißig": 30, "dreissig": 30, "vierzig": 40, "fünfzig": 50, "fuenfzig": 50,
    "sechzig": 60, "siebzig": 70, "achtzig": 80, "neunzig": 90,
}
SCALES = {"hundred": 100, "hundert": 100, "thousand": 1000, "tausend": 1000}
_DE_UNIT = "(ein|zwei|drei|vier|fünf|fuenf|sechs|sieben|acht|neun)"
_DE_TENS = "(zwanzig|dreißig|dreissig|vierzig|fünfzig|fuenfzig|sechzig|siebzig|achtzig|neunzig)"
_DE_COMPOUND = re.compile(rf"^{_DE_UNIT}und{_DE_TENS}$")
_DE_HUNDRED = re.compile(rf"^{_DE_UNIT}?hundert(?:und)?(.*)$")
_MULTIPLIERS = {"double": 2, "doppel": 2, "triple": 3}
_DIGIT_WORDS = {
    "en": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
    "de": ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"],
}


def word_value(word: str) -> int | None:
    """The value of one number word ("seven", "vierunddreißig", "zweihundert"), else None."""
    w = word.lower().replace("-", "")
    if w in UNITS:
        return UNITS[w]
    if w in TEENS:
        return TEENS[w]
    if w in TENS:
        return TENS[w]
    if w in ("hundert", "hundred"):
        return 100
    if m := _DE_COMPOUND.match(w):
        unit = 1 if m.group(1) == "ein" else UNITS[m.group(1)]
        return unit + TENS[m.group(2)]
    if w.startswith(("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")):
        for tens, value in TENS.items():
            rest = w[len(tens):]
            if w.startswith(tens) and rest in UNITS and UNITS[rest] > 0:
                return value + UNITS[rest]
    if (m := _DE_HUNDRED.match(w)) and (m.group(1) or m.group(2)):
        head = 1 if m.group(1) in (None, "ein") else UNITS[m.group(1)]
        tail = word_value(m.group(2)) if m.group(2) else 0
        if tail is not None and tail < 100:
            return head * 100 + tail
    return None


def parse_cardinal(tokens: list[str], start: int) -> tuple[int, int] | None:
    """Read one cardinal made of number words from `tokens[start:]`: (value, tokens used)."""
    total, current, used, seen = 0, 0, 0, False
    i = start
    while i < len(tokens):
        tok = tokens[i].lower()
        if tok == "and" and seen and i + 1 < len(tokens) and word_value(tokens[i + 1]) is not None:
            i += 1
            continue
        if tok in SCALES and seen:
            current = max(current, 1) * SCALES[tok]
            if SCALES[tok] == 1000:
                total, current = total + current, 0
        else:
            value = word_value(tok)
            if value is None:
                break
            # "twenty five" combines; "five five" is two numbers (a digit sequence)
            if seen and not _combines(total, current, value):
                break
            current += value
        seen = True
        i += 1
        used = i - start
    if not seen:
        return None
    return total + current, used


def _combines(total: int, current: int, value: int) -> bool:
    """Whether `value` continues the number read so far ("twenty" + "five") or starts a new one."""
    if current == 0:
        return total > 0  # right after "thousand"; "zero one" is two digits
    if current % 100 >= 20 and current % 10 == 0 and value < 10:
        return True
    return current % 100 == 0 and value < 100


def spoken_digits(text: str) -> str:
    """All digits in `text`, from digit characters and number words ("oh" and "double" too).

    "five five five" stays three digits, "twelve thirty four" gives 1234; a leading "+" or
    "plus" is kept so that international numbers survive.
    """
    tokens = re.findall(r"\+|[\wäöüß]+", text.lower())
    out: list[str] = []
    repeat, i = 1, 0
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        if tok in ("+", "plus") and not out:
            out.append("+")
        elif tok in _MULTIPLIERS:
            repeat = _MULTIPLIERS[tok]
            continue
        elif tok.isdigit():
            out.append(tok * repeat if len(tok) == 1 else tok)
        elif tok in ("oh", "o") and (out or (i < len(tokens) and _is_digitish(tokens[i]))):
            out.append("0" * repeat)
        elif parsed := parse_cardinal(tokens, i - 1):
            value, used = parsed
            i += used - 1
            out.append(str(value) * repeat if value < 10 else str(value))
        repeat = 1
    return "".join(out)


def _is_digitish(tok: str) -> bool:
    return tok.isdigit() or word_value(tok) is not None


def spell_digits(digits: str, language: str = "en") -> str:
    """Speakable digit-by-digit form in groups ("zero seven six one, four five eight, ...")."""
    names = _DIGIT_WORDS.get(language, _DIGIT_WORDS["en"])
    body = digits.lstrip("+")
    groups = [body[i:i + 3] for i in range(0, len(body), 3)]
    if len(groups) > 1 and len(groups[-1]) == 1:  # avoid a lonely last digit
        groups[-2:] = [groups[-2] + groups[-1]]
    spoken = ", ".join(" ".join(names[int(d)] for d in g) for g in groups)
    return f"plus {spoken}" if digits.startswith("+") else spoken
