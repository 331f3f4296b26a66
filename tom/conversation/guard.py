"""The number guard: an LLM sentence may only say numbers that the profile or the caller said.

A tiny model invents prices and opening times with total confidence; on the phone that is worse
than saying nothing. Every number in a sentence (digits or words, English or German) is turned
into canonical keys ("9 am", "9:00" and "nine o'clock" all give t09:00) and checked against the
keys of the facts and of the caller's own words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tom.conversation.numbers import parse_cardinal
from tom.conversation.text import STOPWORDS, stem

MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "januar": 1, "jänner": 1, "februar": 2, "märz": 3, "mai": 5, "juni": 6, "juli": 7,
    "oktober": 10, "dezember": 12,
}
_UNIT_AFTER_ONE = re.compile(
    r"^(o'?clock|uhr|euros?|eur|dollars?|pounds?|hours?|days?|weeks?|months?|years?|am|pm|"
    r"stunden?|tage?n?|wochen?|monate?n?|jahre?n?|minutes?|minuten?|percent|prozent)$")
_TOKEN = re.compile(r"\d+(?:[:.,]\d+)*(?:st|nd|rd|th)?(?![a-z])|[a-zäöüß]+(?:['-][a-zäöüß]+)*|\S", re.UNICODE)
_M = "|".join(MONTHS)
_DATE_NUMERIC = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{2,4})?")
_DATE_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th|\.)? (?:of )?({_M})\b(?: (\d{{4}}))?")
_DATE_MONTH_DAY = re.compile(rf"\b({_M}) (?:the )?(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,? (\d{{4}}))?")
_HALF = re.compile(r"\b(?:(half|quarter) (past|to) (\d{1,2})|(halb|viertel nach|viertel vor) (\d{1,2}))\b")
_CLOCK = re.compile(r"\b(\d{1,2})[:.](\d{2})(?:\s*(am|pm|a\.m\.|p\.m\.|uhr|o'?clock)(?![a-zäöüß]))?")
# "von 9 bis 18 Uhr", "9-5 o'clock": the unit after a range belongs to both ends.
_HOUR_RANGE = re.compile(r"\b(\d{1,2})\s*(?:-|–|bis|to|till|until)\s*(\d{1,2})\s*"
                         r"(am|pm|a\.m\.|p\.m\.|uhr|o'?clock)(?![a-zäöüß])")
_HOUR = re.compile(r"\b(\d{1,2})\s*(am|pm|a\.m\.|p\.m\.|uhr|o'?clock)(?![a-zäöüß])")
_PRICE = re.compile(r"(?:([€$£])\s*(\d+(?:[.,]\d{1,2})?))|(?:\b(\d+(?:[.,]\d{1,2})?)\s*"
                    r"(€|euros?|eur|dollars?|\$|pounds?|£|cents?)(?![a-zäöüß]))")
_PHONE = re.compile(r"\+?\d[\d \-/()]{4,}\d")
_PERCENT = re.compile(r"\b(\d+(?:[.,]\d+)?)\s*(%|percent|prozent)")
_CONNECTORS = frozenset({"bis", "to", "till", "until", "and", "or", "und", "oder", "uhr", "pm", "am"})
_FOLLOWING = re.compile(r"[ \t-]*([a-zäöüß]+)(?: ([a-zäöüß]+))?")
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)?(?:st|nd|rd|th)?\b")


@dataclass(frozen=True)
class Mention:
    """One number found in text: what it said, what kind, and the keys it may match."""

    text: str
    kind: str  # phone | date | time | price | percent | number
    keys: frozenset[str]


def digitize(text: str) -> str:
    """Lower-case `text` with number words replaced by digits ("twenty five euros" -> "25 euros")."""
    text = re.sub(r"\b([ap])\.\s?m\.", r"\1m", text.lower().replace("’", "'"))
    tokens = _TOKEN.findall(text)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        parsed = parse_cardinal(tokens, i)
        if parsed is None:
            out.append(tokens[i])
            i += 1
            continue
        value, used = parsed
        if tokens[i] == "one" and used == 1 and not _counts_as_number(tokens, i):
            out.append("one")
        else:
            out.append(str(value))
        i += used
    return _join(out)


def _counts_as_number(tokens: list[str], i: int) -> bool:
    """"one" is a pronoun ("the red one") unless a unit or another number is next to it."""
    nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
    prev = tokens[i - 1] if i > 0 else ""
    return bool(_UNIT_AFTER_ONE.match(nxt)) or nxt.isdigit() or prev.isdigit() or prev in ("€", "$")


def _join(tokens: list[str]) -> str:
    text = " ".join(tokens)
    text = re.sub(r"(^|\s)\+ (?=\d)", r"\1+", text)
    return re.sub(r" ([.,!?;:%])(?=\s|$)", r"\1", text).replace(" ' ", "'")


def find_numbers(text: str) -> list[Mention]:
    """Every number mention in `text`, most specific reading first (phone before plain digits)."""
    s = digitize(text)
    found: list[Mention] = []

    def take(pattern: re.Pattern[str], kind: str,
             keys_of: Callable[[re.Match[str]], set[str]]) -> None:
        nonlocal s
        for m in list(pattern.finditer(s)):
            keys = keys_of(m)
            if keys:
                found.append(Mention(m.group(0).strip(), kind, frozenset(keys)))
                s = s[:m.start()] + " " * (m.end() - m.start()) + s[m.end():]

    take(_DATE_NUMERIC, "date", lambda m: _date(int(m.group(2)), int(m.group(1)), m.group(3)))
    take(_DATE_DAY_MONTH, "date", lambda m: _date(MONTHS[m.group(2)], int(m.group(1)), m.group(3)))
    take(_DATE_MONTH_DAY, "date", lambda m: _date(MONTHS[m.group(1)], int(m.group(2)), m.group(3)))
    take(_PHONE, "phone", _phone)
    take(_PRICE, "price", _price)
    take(_HALF, "time", _half)
    take(_CLOCK, "time", lambda m: _time(int(m.group(1)), int(m.group(2)), m.group(3)))
    take(_HOUR_RANGE, "time", _hour_range)
    take(_HOUR, "time", lambda m: _time(int(m.group(1)), 0, m.group(2)))
    take(_PERCENT, "percent", lambda m: {f"pc{_num(m.group(1))}"})
    take(_NUMBER, "number", lambda m: _counted(m, s))
    return found


def _counted(m: re.Match[str], text: str) -> set[str]:
    """A bare number; followed by a noun ("18-inch wheel", "2 days") it only matches that noun.

    A fact "two working days" backs "2 days" but not "20 years"; a bare "6" stays loose so that
    "we close at 6" is checked against the opening hours.
    """
    value = _num(re.sub(r"(st|nd|rd|th)$", "", m.group(0)))
    follow = _FOLLOWING.match(text, m.end())
    after = [w for w in follow.groups() if w] if follow else []
    nouns = []
    for word in after:
        if word in STOPWORDS or word in _CONNECTORS:
            break
        nouns.append(stem(word))
    return {f"q{value}:{n}" for n in nouns} or {f"n{value}"}


def _num(text: str) -> str:
    value = float(text.replace(",", "."))
    return str(int(value)) if value.is_integer() else f"{value:g}"


def _date(month: int, day: int, year: str | None) -> set[str]:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return set()
    keys = {f"d{month:02d}-{day:02d}"}
    if year:
        keys.add(f"n{int(year)}")
    return keys


def _phone(m: re.Match[str]) -> set[str]:
    digits = re.sub(r"\D", "", m.group(0))
    if len(digits) < 6 or ":" in m.group(0):
        return set()
    keys = {f"p{digits}"}
    if len(digits) >= 7:
        keys.add(f"p~{digits[-7:]}")  # "+49 761 ..." and "0761 ..." share their tail
    return keys


def _price(m: re.Match[str]) -> set[str]:
    amount = m.group(2) or m.group(3)
    unit = m.group(1) or m.group(4)
    value = _num(amount)
    if unit.startswith("cent"):
        return {f"m{_num(str(float(value) / 100))}", f"n{value}"}
    return {f"m{value}"}


def _half(m: re.Match[str]) -> set[str]:
    if m.group(1):
        hour = int(m.group(3))
        minute = {"half": 30, "quarter": 15}[m.group(1)]
        if m.group(2) == "to":
            hour, minute = hour - 1, 60 - minute
    else:
        hour = int(m.group(5))
        word = m.group(4)
        hour, minute = {"halb": (hour - 1, 30), "viertel nach": (hour, 15),
                        "viertel vor": (hour - 1, 45)}[word]
    return _time(hour % 24, minute, None)


def _hour_range(m: re.Match[str]) -> set[str]:
    """Both ends of a range are times; am/pm after it may not hold for the first end."""
    suffix = m.group(3)
    first = suffix if suffix.startswith(("uhr", "o")) else None
    return _time(int(m.group(1)), 0, first) | _time(int(m.group(2)), 0, suffix)


def _time(hour: int, minute: int, suffix: str | None) -> set[str]:
    if hour > 24 or minute > 59:
        return set()
    suffix = (suffix or "").replace(".", "")
    if suffix in ("am", "pm"):
        if hour > 12:
            return set()
        hour = hour % 12 + (12 if suffix == "pm" else 0)
        return {f"t{hour:02d}:{minute:02d}"}
    keys = {f"t{hour % 24:02d}:{minute:02d}"}
    if 1 <= hour <= 12:  # "9:00" / "neun Uhr" may mean the evening too
        keys.add(f"t{hour + 12:02d}:{minute:02d}")
    return keys


def allowed_keys(texts: Iterable[str]) -> set[str]:
    """Keys that sentences may use: everything in `texts`, plus the bare numbers inside it."""
    out: set[str] = set()
    for text in texts:
        for mention in find_numbers(text):
            out |= mention.keys
            for key in mention.keys:
                out |= _loose(key)
    return out


def _loose(key: str) -> set[str]:
    """A fact "6 pm" also allows a bare "6" or "18"; "15 euros" allows "15"."""
    kind, value = key[0], key[1:]
    if kind == "t":
        hour, minute = (int(x) for x in value.split(":"))
        out = {f"n{hour}", f"n{hour % 12 or 12}"}
        return out | ({f"n{minute}"} if minute else set())
    if kind == "m":
        return {f"n{value}"}
    if kind == "d":
        return {f"n{int(value[3:])}"}
    return set()


class NumberGuard:
    """Checks sentences against the numbers of the profile and of what this caller said."""

    def __init__(self, facts: Iterable[str]) -> None:
        self._allowed = allowed_keys(facts)

    def allow(self, text: str) -> None:
        """Numbers the caller said may be repeated back ("are you open at 7?" -> "not at 7 pm")."""
        keys = allowed_keys([text])
        for key in list(keys):
            if key[0] == "n" and key[1:].isdigit() and 0 < int(key[1:]) <= 12:
                hour = int(key[1:])
                keys |= {f"t{hour:02d}:00", f"t{hour + 12:02d}:00"}
        self._allowed |= keys

    def invented(self, sentence: str) -> list[Mention]:
        """The mentions in `sentence` that nothing backs; empty means the sentence is safe."""
        return [m for m in find_numbers(sentence) if not m.keys & self._allowed]


_MARKUP = re.compile(r"(\*\*|__|`+|#+\s|^\s*[-*•]\s+|^\s*\d+[.)]\s+|https?://\S+|[<>\[\]{}|])",
                     re.MULTILINE)


def speakable(sentence: str) -> str:
    """Strip markdown and list markers an LLM may emit; a voice cannot read them."""
    text = _MARKUP.sub(" ", sentence)
    text = re.sub(r"(?<!\w)\*|\*(?!\w)", " ", text)
    return " ".join(text.split())
