"""Reading slot values from a caller's words: names, numbers, messages, days and times.

The flow engine (flows.py) decides what to ask; this module only turns one turn into values,
checked against the opening hours ("closed that day" comes back as a Problem to say).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from tom.conversation.flow_table import Slot
from tom.conversation.numbers import spoken_digits
from tom.conversation.profile import Profile
from tom.conversation.text import normalize, words
from tom.conversation.when import (
    Day,
    Window,
    drop_negated,
    parse_day,
    parse_time,
    parse_vague_day,
    parse_window,
    unsure_day,
)

_NAME_PREFIX = re.compile(
    r"^(?:(?:yes|yeah|sure|ok|okay|ja|gerne|hi|hallo|well|also)[, ]+)*"
    r"(?:my name is|my name's|the name is|name's|it's|it is|this is|i'm|i am|call me|"
    r"mein name ist|ich heiße|ich heisse|hier ist|ich bin|hier spricht|name ist)\s+")
_NAME_SUFFIX = re.compile(r"[\s,.]*(?:thanks|thank you|danke|bitte|please)?[\s,.!?]*$")
_SAME_NUMBER = re.compile(r"\b(this|same|my|the) (number|phone)\b|\bcalling from\b|"
                          r"\b(diese|dieselbe|gleiche|meine) nummer\b|\bvon der ich anrufe\b")
_WHOM = r"(?:the |die |den |der |mr |mrs |ms |frau |herrn? )?[\w-]+"
_MESSAGE_LEAD = re.compile(
    r"^.*?\b(?:(?:leave|take) a message(?: for " + _WHOM + r")?|message for \w+|"
    r"tell (?:him|her|them|\w+)|let (?:him|her|them) know|nachricht hinterlassen|ausrichten|"
    r"sagen sie (?:ihm|ihr))"
    r"\b[\s,:;.?!-]*(?:(?:please|bitte)\b[\s,:;.?!-]*)?(?:that\b|dass\b)?\s*")
_RECIPIENT = re.compile(r"^(?:for|to|für|an) " + _WHOM + r"[\s,]*(?:please|bitte)?$")
# A name the caller gives with the request ("Hi, this is Sam Reed, I'd like ..."): said as a name,
# so written with capitals by the speech recogniser.
_NAME_IN_REQUEST = re.compile(
    r"\b(?:[Mm]y name is|[Mm]y name's|[Tt]his is|[Mm]ein [Nn]ame ist|[Ii]ch heiße|[Hh]ier ist|"
    r"[Hh]ier spricht)\s+([A-ZÄÖÜ][\w'-]+(?:\s+[A-ZÄÖÜ][\w'-]+)?)")
# Words that turn a day or time in a later turn into a correction of the one given before.
CORRECTION = re.compile(r"\b(no|nope|nein|not|nicht|actually|instead|sorry|rather|i mean|"
                         r"make it|lieber|doch|stattdessen|eigentlich|sondern|besser)\b")
# Where a reschedule says which day is the old one and which the new one.
_TO_DAY = re.compile(r"\b(to|until|onto|auf|zum|zur|nach|instead|stattdessen)\s+(the |den |am )?$")
_FROM_DAY = re.compile(r"\b(from|von|vom|currently|is on|ist am|is|war)\s+(the |den |am )?$")


MIN_DIGITS, MAX_DIGITS = 5, 15
# Words that make a turn something other than a name ("sorry, what was that?").
_NOT_IN_NAMES = frozenset({"what", "why", "how", "where", "when", "which", "who", "pardon",
                           "repeat", "warum", "wieso", "wozu", "wiederholen"})
# A turn of nothing but these is no name: a "Yeah." or "mhm" said while TOM asked for the name
# ("Thank you, Yeah." in a bench run with backchannels).
_NO_NAME = frozenset("""yes yeah yep yup okay ok mhm mhmm mm hm hmm uh huh um ah oh right sure
alright uh-huh mm-hmm no nope ja jaja genau aha nein ne nee""".split())


def name_in_request(request: str) -> str:
    """The name a caller gave with the request ("Hi, this is Sam Reed, ..."), or ""."""
    m = _NAME_IN_REQUEST.search(request)
    return clean_name(m.group(1)) if m else ""


def message_in_request(request: str) -> str:
    """The message a request already carries ("tell Jana that my bike is ready"), or ""."""
    said = normalize(request).strip(" .,?!")
    rest = _RECIPIENT.sub("", _MESSAGE_LEAD.sub("", said).strip(" .,"))
    return rest if rest != said and len(rest.split()) >= 3 else ""


def phone_number(text: str, caller: str) -> str:
    """The digits of a spoken number; "this number" / "diese Nummer" is the caller ID."""
    digits = spoken_digits(text)
    if _SAME_NUMBER.search(normalize(text)) and len(caller.lstrip("+")) >= MIN_DIGITS \
            and len(digits) < MIN_DIGITS:
        digits = re.sub(r"[^\d+]", "", caller)
    return digits


@dataclass(frozen=True)
class Problem:
    """A value TOM cannot take as it is: the flow's text to say (`key`) and its placeholders."""

    key: str  # closed_day | outside_hours
    values: dict[str, str] = field(default_factory=dict)


def clean_name(text: str) -> str:
    """"uh my name is jana miller thanks" -> "Jana Miller"; "" for a question ("sorry, what?")."""
    t = normalize(text).strip(" .,!?")
    t = _NAME_SUFFIX.sub("", _NAME_PREFIX.sub("", t))
    if any(w in _NOT_IN_NAMES for w in words(t)) or all(w in _NO_NAME for w in words(t)):
        return ""
    name = " ".join(w for w in words(t)[:4])
    return " ".join(w[:1].upper() + w[1:] for w in name.split())


@dataclass
class Collected:
    """The slot values so far."""

    name: str = ""
    number: str = ""
    number_ok: bool = False
    text: str = ""
    day: Day | None = None
    old_day: Day | None = None
    minute: int | None = None
    window: tuple[Window, int, int] | None = None  # the window and its open part (start, end)
    confirmed: bool = False

    def has(self, slot: Slot) -> bool:
        return {Slot.NAME: bool(self.name), Slot.NUMBER: self.number_ok, Slot.TEXT: bool(self.text),
                Slot.DAY: self.day is not None, Slot.OLD_DAY: self.old_day is not None,
                Slot.TIME: self.minute is not None or self.window is not None,
                Slot.CONFIRM: self.confirmed}[slot]


@dataclass
class WhenReader:
    """Fills the day, old-day and time slots of `values` from one turn."""

    profile: Profile
    values: Collected
    slots: tuple[Slot, ...]
    today: date
    asking: str  # the slot the flow is asking for

    def has(self, slot: Slot) -> bool:
        return slot in self.slots

    def take_when(self, text: str) -> Problem | None:
        """Fill day, old day and time from `text`; returns the problem when one is impossible."""
        p, v = self.profile, self.values
        t = normalize(text)
        if CORRECTION.search(t):
            t = drop_negated(t)
        rest = t
        found = parse_day(t, self.today, p.language)
        day = found[0] if found else parse_vague_day(t, self.today, p.language)
        if found:
            rest = found[1]
        if day is None and self.asking == Slot.DAY and unsure_day(t):
            day = Day(date.min, p.say("flow", "any_day"), vague=True)
        target = self._day_slot(t, day) if day else None
        if target is Slot.OLD_DAY and self.has(Slot.DAY) \
                and (second := parse_day(rest, self.today, p.language)):
            v.old_day = day  # "from Tuesday to Thursday": the second day is the new one
            day, rest = second
            target = Slot.DAY
        if target is Slot.OLD_DAY:
            v.old_day = day
            return None
        if target is Slot.DAY:
            v.day = day
            if day is not None and not day.vague and not p.hours[day.date.weekday()]:
                v.day, v.minute, v.window = None, None, None
                return Problem("closed_day", {"day": day.label})
        if self.has(Slot.TIME) and (target is Slot.DAY or day is None):
            return self._take_time(rest, new_day=target is Slot.DAY)
        return None

    def _day_slot(self, t: str, day: Day) -> Slot:
        """Which slot a day named in `t` fills: the old or the new appointment's day."""
        if not self.has(Slot.DAY):
            return Slot.OLD_DAY
        if not self.has(Slot.OLD_DAY):
            return Slot.DAY
        m = re.search(re.escape(day.label.lower().split()[0]), t)
        before = t[:m.start()] if m else ""
        if _TO_DAY.search(before):
            return Slot.DAY
        if _FROM_DAY.search(before) or self.asking == Slot.OLD_DAY:
            return Slot.OLD_DAY
        return Slot.DAY

    def _take_time(self, text: str, new_day: bool) -> Problem | None:
        """A clock time or a part of the day, checked against the opening hours of the day."""
        p, v = self.profile, self.values
        weekday = v.day.date.weekday() if v.day and not v.day.vague else None
        minute = parse_time(text, None if weekday is None else lambda m: p.is_open(weekday, m),
                            asked=self.asking == Slot.TIME)
        window = parse_window(text) if minute is None else None
        if window and window.key == "any" and self.asking != Slot.TIME and not new_day:
            window = None  # "not sure" in answer to another question is not a time
        if minute is not None:
            v.minute, v.window = minute, None
        elif window is not None:
            v.minute, v.window = None, (window, window.start, window.end)
        if weekday is None or v.day is None:
            return None
        if v.minute is not None:
            if not p.is_open(weekday, v.minute) and v.minute < 720 \
                    and p.is_open(weekday, v.minute + 720):
                v.minute += 720  # "at three" on a day that is open in the afternoon
            if not p.is_open(weekday, v.minute):
                v.minute = None
                return Problem("outside_hours", {"day": v.day.label,
                                                 "hours": p.day_hours_text(weekday)})
        elif v.window is not None:
            w = v.window[0]
            spans = [(max(a, w.start), min(b, w.end)) for a, b in p.hours[weekday]
                     if max(a, w.start) < min(b, w.end)]
            if not spans:
                v.window = None
                return Problem("outside_hours", {"day": v.day.label,
                                                 "hours": p.day_hours_text(weekday)})
            v.window = (w, spans[0][0], spans[-1][1])
        return None
