"""Number words in English and German: to values, to phone digits, and back to speakable digits.

Callers say numbers as words ("five five five", "null sieben sechs eins", "double two"); STT
writes them either way. The guard, the call-back flow and the bench's word error rate all need
the value behind the words, so this is the one place that reads them.

`language` is "en", "de", or None for both at once (a caller may mix them; the guard does not
know which language an LLM sentence is in).
"""

from __future__ import annotations

import re
from functools import lru_cache

_EN_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}
_EN_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}
_EN_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30, "fortieth": 40, "fiftieth": 50,
    "sixtieth": 60, "seventieth": 70, "eightieth": 80, "ninetieth": 90,
}
# German number words are written as one word ("zweitausenddreihundertfünfundzwanzig"), so
# they are read as a sequence of these parts; "ein" only occurs inside such a word.
_DE_PARTS = {
    "null": 0, "ein": 1, "eins": 1, "zwei": 2, "zwo": 2, "drei": 3, "vier": 4, "fünf": 5,
    "fuenf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9, "zehn": 10, "elf": 11,
    "zwölf": 12, "zwoelf": 12, "dreizehn": 13, "vierzehn": 14, "fünfzehn": 15, "fuenfzehn": 15,
    "sechzehn": 16, "siebzehn": 17, "achtzehn": 18, "neunzehn": 19, "zwanzig": 20,
    "dreißig": 30, "dreissig": 30, "vierzig": 40, "fünfzig": 50, "fuenfzig": 50, "sechzig": 60,
    "siebzig": 70, "achtzig": 80, "neunzig": 90, "hundert": 100, "tausend": 1000,
}
_DE_AND = "und"
_DE_BY_LENGTH = sorted([*_DE_PARTS, _DE_AND], key=len, reverse=True)
_DE_ORDINAL_STEMS = {"erst": 1, "dritt": 3, "siebt": 7, "acht": 8}
_DE_ORDINAL_ENDINGS = ("", "e", "en", "er", "es", "em")
_SCALES = {"en": {"hundred": 100, "thousand": 1000}, "de": {"hundert": 100, "tausend": 1000}}
_MULTIPLIERS = {"double": 2, "doppel": 2, "triple": 3}
DIGIT_WORDS = {  # one word per digit, for reading numbers digit by digit
    "en": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
    "de": ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"],
}


def _languages(language: str | None) -> tuple[str, ...]:
    return ("en", "de") if language is None else (language[:2].lower(),)


def word_value(word: str, language: str | None = None) -> int | None:
    """The value of one cardinal number word ("seven", "vierunddreißig", "zweihundert")."""
    w = word.lower().replace("-", "")
    for lang in _languages(language):
        if lang == "en":
            value = _EN_WORDS.get(w, _EN_TENS.get(w, _SCALES["en"].get(w)))
            value = _english_compound(w) if value is None else value
        elif lang == "de":
            value = _german_cardinal(w)
        else:
            value = None
        if value is not None:
            return value
    return None


def ordinal_value(word: str, language: str | None = None) -> int | None:
    """The value of one ordinal number word ("third", "dritten", "einundzwanzigsten")."""
    w = word.lower().replace("-", "")
    for lang in _languages(language):
        value = _EN_ORDINALS.get(w) if lang == "en" else _german_ordinal(w) if lang == "de" \
            else None
        if value is not None:
            return value
    return None


def _english_compound(w: str) -> int | None:
    """ "twentyfive" as STT sometimes writes it."""
    for tens, value in _EN_TENS.items():
        unit = _EN_WORDS.get(w[len(tens):], 0) if w.startswith(tens) else 0
        if 0 < unit < 10:
            return value + unit
    return None


@lru_cache(maxsize=4096)
def _german_cardinal(w: str) -> int | None:
    parts = _german_parts(w)
    if not parts:
        return None
    if "tausend" in parts:
        k = parts.index("tausend")
        head = 1 if k == 0 or parts[:k] == ["ein"] else _german_below_thousand(parts[:k])
        rest = _german_below_thousand(parts[k + 1:]) if parts[k + 1:] else 0
        return None if head is None or rest is None else head * 1000 + rest
    return _german_below_thousand(parts)


def _german_parts(w: str) -> list[str] | None:
    """`w` split into number parts ("fünf", "und", "zwanzig"), or None when it is not one."""
    if not w:
        return []
    for part in _DE_BY_LENGTH:
        if w.startswith(part) and (rest := _german_parts(w[len(part):])) is not None:
            return [part, *rest]
    return None


def _german_below_thousand(parts: list[str]) -> int | None:
    if "hundert" not in parts:
        return _german_below_hundred(parts)
    k = parts.index("hundert")
    head = 1 if k == 0 else _DE_PARTS.get(parts[0], 0) if k == 1 else 0
    tail = parts[k + 2:] if parts[k + 1:k + 2] == [_DE_AND] else parts[k + 1:]
    rest = _german_below_hundred(tail) if tail or parts[k + 1:] else 0
    return None if not 1 <= head <= 19 or rest is None else head * 100 + rest


def _german_below_hundred(parts: list[str]) -> int | None:
    if len(parts) == 1 and parts[0] not in ("ein", _DE_AND) and _DE_PARTS[parts[0]] < 100:
        return _DE_PARTS[parts[0]]
    if len(parts) == 3 and parts[1] == _DE_AND and parts[0] != "eins":
        unit, tens = _DE_PARTS.get(parts[0], 0), _DE_PARTS.get(parts[2], 0)
        if 1 <= unit <= 9 and tens in (20, 30, 40, 50, 60, 70, 80, 90):
            return unit + tens
    return None


def _german_ordinal(w: str) -> int | None:
    """ "dritten" → 3, "einundzwanzigsten" → 21: a stem, "t" below 20 or "st" above, an ending."""
    for ending in _DE_ORDINAL_ENDINGS:
        if not w.endswith(ending):
            continue
        core = w[:len(w) - len(ending)] if ending else w
        if core in _DE_ORDINAL_STEMS:
            return _DE_ORDINAL_STEMS[core]
        if core.endswith("st") and (value := _german_cardinal(core[:-2])) is not None \
                and value >= 20:
            return value
        if core.endswith("t") and (value := _german_cardinal(core[:-1])) is not None \
                and value < 20:
            return value
    return None


def parse_cardinal(tokens: list[str], start: int, language: str | None = None,
                   ordinals: bool = False) -> tuple[int, int] | None:
    """Read one number made of words from `tokens[start:]`: (value, tokens used), else None.

    "twenty five" is one number, "five five" is two (a digit sequence); with `ordinals`, an
    ordinal ends the number ("twenty first" → 21).
    """
    langs = _languages(language)
    scales = {w: v for lang in langs for w, v in _SCALES.get(lang, {}).items()}
    total, current, used, i = 0, 0, 0, start
    while i < len(tokens):
        tok = tokens[i].lower()
        if tok == "and" and used and "en" in langs and i + 1 < len(tokens) \
                and _read(tokens[i + 1], language, ordinals) is not None:
            i += 1
            continue
        ordinal = False
        if tok in scales:
            current = max(current, 1) * scales[tok]
            if scales[tok] == 1000:
                total, current = total + current, 0
        else:
            read = _read(tok, language, ordinals)
            after_tens = used > 0 and tokens[i - 1].lower() in _EN_TENS
            if read is None or (used and not _combines(total, current, read[0], after_tens)):
                break
            current += read[0]
            ordinal = read[1]
        i += 1
        used = i - start
        if ordinal:
            break
    return (total + current, used) if used else None


def _read(tok: str, language: str | None, ordinals: bool) -> tuple[int, bool] | None:
    """(value, is an ordinal) of one word."""
    if (value := word_value(tok, language)) is not None:
        return value, False
    if ordinals and (value := ordinal_value(tok, language)) is not None:
        return value, True
    return None


def _combines(total: int, current: int, value: int, after_tens: bool) -> bool:
    """Whether `value` continues the number read so far ("twenty" + "five") or starts a new one.

    Only English puts the unit after the tens as a word of its own; German "vierzig zwei" is
    two numbers (it would be "zweiundvierzig").
    """
    if value == 0:
        return False  # "twenty zero five" is three numbers
    if current == 0:
        return total > 0  # right after "thousand"; "zero one" is two digits
    if after_tens and value < 10:
        return True
    return current % 100 == 0 and value < 100


def numbers_to_digits(tokens: list[str], language: str | None = None) -> list[str]:
    """`tokens` with every number in words, cardinal or ordinal, replaced by its digits."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        parsed = parse_cardinal(tokens, i, language, ordinals=True)
        out.append(tokens[i] if parsed is None else str(parsed[0]))
        i += 1 if parsed is None else parsed[1]
    return out


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
    names = DIGIT_WORDS.get(language, DIGIT_WORDS["en"])
    body = digits.lstrip("+")
    groups = [body[i:i + 3] for i in range(0, len(body), 3)]
    if len(groups) > 1 and len(groups[-1]) == 1:  # avoid a lonely last digit
        groups[-2:] = [groups[-2] + groups[-1]]
    spoken = ", ".join(" ".join(names[int(d)] for d in g) for g in groups)
    return f"plus {spoken}" if digits.startswith("+") else spoken
