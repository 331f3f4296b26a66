"""Day and time of an appointment request from a caller's words, English or German.

Only what a booking needs: a weekday (or today/tomorrow, or "the 20th") within the coming weeks
and a clock time, where a bare "three" is read as whichever of 3 am / 3 pm the shop is open.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from tom.conversation.guard import digitize
from tom.conversation.lang import lang

WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
    "sunday": 6, "montag": 0, "dienstag": 1, "mittwoch": 2, "donnerstag": 3, "freitag": 4,
    "samstag": 5, "sonnabend": 5, "sonntag": 6,
}
_DAY = re.compile(r"\b(" + "|".join(WEEKDAYS) + r")s?\b")
_RELATIVE = re.compile(
    r"\b(day after tomorrow|übermorgen|today|heute|tomorrow|(?<!guten )morgen)\b(?! früh)")
_NTH = re.compile(r"\b(?:the |den |am )?(\d{1,2})(?:st|nd|rd|th|\.)(?! ?uhr)")
_CLOCK = re.compile(r"\b(\d{1,2})(?:[:.]| )(\d{2})\b(?:\s*(am|pm))?")
_HALF = re.compile(r"\b(?:half past (\d{1,2})|halb (\d{1,2})|quarter past (\d{1,2})|"
                   r"viertel nach (\d{1,2})|quarter to (\d{1,2})|viertel vor (\d{1,2}))\b")
_HOUR = re.compile(r"\b(?:at |um |gegen |around )?(\d{1,2})\s*(am|pm|uhr|o'?clock)?\b")
_NOON = re.compile(r"\b(noon|midday|mittag|mittags)\b")


@dataclass(frozen=True)
class Day:
    """A requested day: its date and how TOM says it."""

    date: date
    label: str


def parse_day(text: str, today: date, language: str = "en") -> tuple[Day, str] | None:
    """The day named in `text` and the text with that day removed, or None if none is named."""
    t = digitize(text)
    names = lang(language).weekdays
    if m := _RELATIVE.search(t):
        offset = {"today": 0, "heute": 0, "tomorrow": 1, "morgen": 1}.get(m.group(1), 2)
        d = today + timedelta(days=offset)
        return Day(d, names[d.weekday()]), _cut(t, m)
    if m := _DAY.search(t):
        ahead = (WEEKDAYS[m.group(1)] - today.weekday()) % 7
        d = today + timedelta(days=ahead or (7 if re.search(r"\b(next|nächst)", t) else 0))
        return Day(d, names[d.weekday()]), _cut(t, m)
    if (m := _NTH.search(t)) and 1 <= int(m.group(1)) <= 31:
        if nth_day := _next_day_of_month(today, int(m.group(1))):
            nth = f"{nth_day.day}." if language == "de" else f"{nth_day.day}{_suffix(nth_day.day)}"
            joiner = ", den " if language == "de" else " the "
            return Day(nth_day, f"{names[nth_day.weekday()]}{joiner}{nth}"), _cut(t, m)
    return None


def parse_time(text: str, is_open: Callable[[int], bool] | None = None) -> int | None:
    """Minutes after midnight of the time in `text`; `is_open(minute)` settles am versus pm."""
    t = digitize(text)
    candidates: list[int] = []
    if m := _HALF.search(t):
        g = m.groups()
        hour = next(int(x) for x in g if x)
        if g[0] or g[2]:
            minutes = [hour * 60 + (30 if g[0] else 15)]
        elif g[1]:
            minutes = [(hour - 1) * 60 + 30]
        elif g[3]:
            minutes = [hour * 60 + 15]
        else:
            minutes = [(hour - 1) * 60 + 45]
        candidates = [x for v in minutes for x in (v, v + 12 * 60) if x < 24 * 60]
    elif m := _NOON.search(t):
        candidates = [12 * 60]
    elif (m := _CLOCK.search(t)) and int(m.group(2)) < 60:
        candidates = _hours(int(m.group(1)), m.group(3), int(m.group(2)))
    elif m := _HOUR.search(t):
        candidates = _hours(int(m.group(1)), m.group(2), 0)
    if not candidates:
        return None
    if is_open:
        for c in candidates:
            if is_open(c):
                return c
    return candidates[0]


def _hours(hour: int, suffix: str | None, minute: int) -> list[int]:
    if hour > 24:
        return []
    if suffix in ("am", "pm"):
        if hour > 12:
            return []
        return [(hour % 12 + (12 if suffix == "pm" else 0)) * 60 + minute]
    if hour <= 12:
        return [hour * 60 + minute, (hour + 12) * 60 + minute] if hour < 12 else [hour * 60 + minute]
    return [hour * 60 + minute]


def _cut(text: str, m: re.Match[str]) -> str:
    return text[:m.start()] + " " + text[m.end():]


def _suffix(n: int) -> str:
    if 11 <= n % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _next_day_of_month(today: date, day: int) -> date | None:
    year, month = today.year, today.month
    for _ in range(3):
        try:
            d = date(year, month, day)
        except ValueError:
            d = None
        if d and d >= today:
            return d
        month, year = (1, year + 1) if month == 12 else (month + 1, year)
    return None
