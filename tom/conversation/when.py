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
_HOUR = re.compile(r"\b(at |um |gegen |around |by |bis )?(\d{1,2})\s*(am|pm|uhr|o'?clock)?\b")
# A bare number followed by one of these is still a time ("3 then"); followed by another word it
# counts something ("3 bikes", "2 Räder").
_AFTER_BARE_HOUR = re.compile(r"\s*(?:$|[,.!?]|then|please|bitte|dann|okay|ok|if|wenn|would|"
                              r"works|passt|is|ist|geht|or|oder|and|und)")
_NOON = re.compile(r"\b(noon|midday|mittag|mittags)\b")


@dataclass(frozen=True)
class Day:
    """A requested day: its date and how TOM says it; `vague` for "early next week" and the like
    (the date is the first day meant, the label is what the caller said)."""

    date: date
    label: str
    vague: bool = False


@dataclass(frozen=True)
class Window:
    """A part of the day the caller named instead of a clock time ("afternoon", "after work")."""

    key: str  # morning | lunch | afternoon | evening | any
    start: int  # minutes after midnight
    end: int


# Vague times: what a caller says instead of a clock time, and the part of the day it means.
_WINDOWS = (
    ("any", re.compile(
        r"\b(any ?time|whenever|(does ?n'?t|does not|do ?n'?t) (matter|mind|care)|"
        r"(do ?n'?t|do not) know|not sure( yet)?|no idea|i'?m flexible|flexible|"
        r"egal|jederzeit|wann (sie|es) (wollen|passt)|weiß (ich )?(noch )?nicht|"
        r"keine ahnung|noch (nicht )?sicher|bin flexibel|flexibel)\b"), 0, 24 * 60),
    ("lunch", re.compile(r"\b(lunch ?time|over lunch|at lunch|mittagspause|über mittag)\b"),
     12 * 60, 14 * 60),
    ("evening", re.compile(r"\b(after work|evening|tonight|after five|nach der arbeit|"
                           r"feierabend|abends|am abend|gegen abend)\b"), 17 * 60, 24 * 60),
    ("afternoon", re.compile(r"\b(afternoon|nachmittags?|am nachmittag)\b"), 12 * 60, 24 * 60),
    ("morning", re.compile(r"\b(morning|in the morning|vormittags?|morgens|früh|am morgen|"
                           r"(?<!guten )morgen früh)\b"), 0, 12 * 60),
)
WINDOW_LABELS = {
    "en": {"any": "at any time", "lunch": "around lunchtime", "evening": "after work",
           "afternoon": "in the afternoon", "morning": "in the morning"},
    "de": {"any": "zu jeder Zeit", "lunch": "über Mittag", "evening": "nach Feierabend",
           "afternoon": "am Nachmittag", "morning": "am Vormittag"},
}
# Vague days: (pattern, weekday of the first day meant, weeks ahead, label per language).
_VAGUE_DAYS = (
    (re.compile(r"\b(early next week|beginning of next week|anfang (der )?nächste[nr]? woche)\b"),
     0, 1, {"en": "early next week", "de": "Anfang nächster Woche"}),
    (re.compile(r"\b(end of (the|this) week|later this week|ende (der|dieser) woche)\b"),
     3, 0, {"en": "later this week", "de": "Ende dieser Woche"}),
    (re.compile(r"\b(next week|nächste[nr]? woche)\b"),
     0, 1, {"en": "next week", "de": "nächste Woche"}),
)
_UNSURE_DAY = re.compile(
    r"\b((do ?n'?t|do not) know( yet)?|not sure( yet)?|no idea|any ?day|whenever|"
    r"(does ?n'?t|does not) matter|weiß (ich )?(noch )?nicht|keine ahnung|egal|"
    r"noch (nicht )?sicher|irgendwann)\b")
# "not Thursday, Friday", "not 5, 9", "nicht um fünf, sondern um neun": the value after "not"
# is the wrong one; what follows it is the correction.
_NEGATED_VALUE = re.compile(
    r"\b(?:not|nicht)\s+(?:at |on |um |am |the |den )?[\w:.]+(?:\s*(?:uhr|am|pm|o'?clock))?"
    r"\s*[,;]?\s*(?:but |sondern |rather |i mean |eher )?")


_COMPOUND = re.compile(r"\b(montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag)"
                       r"(vormittag|nachmittag|abend|morgen|früh|mittag)s?\b")


def split_compounds(text: str) -> str:
    """ "Donnerstagnachmittag" -> "donnerstag nachmittag": day and part of the day apart."""
    return _COMPOUND.sub(r"\1 \2", text.lower())


def parse_day(text: str, today: date, language: str = "en") -> tuple[Day, str] | None:
    """The day named in `text` and the text with that day removed, or None if none is named."""
    t = digitize(split_compounds(text))
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


def at_time(language: str, day: str, time: str) -> str:
    """ "Thursday at 3 pm" / "am Donnerstag um 15 Uhr"."""
    return f"am {day} um {time}" if language == "de" else f"{day} at {time}"


def in_window(language: str, day: str, window: str) -> str:
    """ "Thursday in the afternoon, from 12 pm to 6 pm" / "am Donnerstag am Nachmittag, ..."."""
    return f"am {day} {window}" if language == "de" else f"{day} {window}"


_EDGES = {"en": ("from {}", "until {}"), "de": ("ab {}", "bis {}")}


def window_label(window: Window, language: str, clock: Callable[[int], str],
                 spans: list[tuple[int, int]], start: int, end: int) -> str:
    """ "in the afternoon, until 6 pm" / "am Nachmittag, bis 18 Uhr": the part of the day and
    only those of its edges that are opening or closing times (`spans`), so TOM never says a
    time that is not in the profile."""
    labels = WINDOW_LABELS.get(language, WINDOW_LABELS["en"])
    opens = start in {a for a, _ in spans}
    closes = end in {b for _, b in spans}
    since, until = _EDGES.get(language, _EDGES["en"])
    if opens and closes:
        edge = f"{since.format(clock(start))} {until.format(clock(end))}"
    elif opens:
        edge = since.format(clock(start))
    elif closes:
        edge = until.format(clock(end))
    else:
        return labels[window.key]
    return f"{labels[window.key]}, {edge}"


def drop_negated(text: str) -> str:
    """`text` without the values it says are wrong ("not 5, 9" -> "9")."""
    return _NEGATED_VALUE.sub(" ", digitize(text))


def parse_window(text: str) -> Window | None:
    """The part of the day named in `text` ("afternoon", "I don't know yet"), or None."""
    t = split_compounds(text)
    for key, pattern, start, end in _WINDOWS:
        if pattern.search(t):
            return Window(key, start, end)
    return None


def parse_vague_day(text: str, today: date, language: str = "en") -> Day | None:
    """ "early next week" -> the Monday of next week, labelled as the caller said it."""
    t = text.lower()
    for pattern, weekday, weeks, labels in _VAGUE_DAYS:
        if pattern.search(t):
            monday = today - timedelta(days=today.weekday()) + timedelta(weeks=weeks)
            d = max(monday + timedelta(days=weekday), today)
            return Day(d, labels.get(language, labels["en"]), vague=True)
    return None


def unsure_day(text: str) -> bool:
    """The caller does not know the day yet ("I don't know yet", "weiß ich noch nicht")."""
    return bool(_UNSURE_DAY.search(text.lower()))


def parse_time(text: str, is_open: Callable[[int], bool] | None = None, *,
               asked: bool = False) -> int | None:
    """Minutes after midnight of the time in `text`; `is_open(minute)` settles am versus pm.
    `asked`: the turn answers "what time?", so the one number of a short reply is the hour even
    when a misheard word follows it ("und zehn more" for "um zehn Uhr")."""
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
    elif m := _hour(t):
        candidates = _hours(int(m.group(2)), m.group(3), 0)
    elif asked and (m := _lone_hour(t)):
        candidates = _hours(int(m.group(2)), None, 0)
    if not candidates:
        return None
    if is_open:
        for c in candidates:
            if is_open(c):
                return c
    return candidates[0]


def _hour(text: str) -> re.Match[str] | None:
    """The hour in `text`: one said with "at"/"um" or "am"/"Uhr" first, else a bare number that
    does not count something ("3 bikes")."""
    bare = None
    for m in _HOUR.finditer(text):
        if m.group(1) or m.group(3):
            return m
        if bare is None and _AFTER_BARE_HOUR.match(text, m.end()):
            bare = m
    return bare


def _lone_hour(text: str) -> re.Match[str] | None:
    """The only number of a reply of at most four words, when it can be an hour."""
    found = list(_HOUR.finditer(text))
    if len(found) != 1 or len(text.split()) > 4 or int(found[0].group(2)) > 24:
        return None
    return found[0]


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
