"""The two form-filling flows of a call: taking a message and requesting an appointment.

Each flow is a small state machine over the caller's turns. It only decides what to say next and
what to store; the Dialogue does the storing (so a flow is pure and easy to test) and only then
says thank you.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from tom.conversation.intents import confirmation, is_cancel, yes_no
from tom.conversation.numbers import spell_digits, spoken_digits
from tom.conversation.profile import Profile
from tom.conversation.text import normalize, words
from tom.conversation.when import Day, parse_day, parse_time

_NAME_PREFIX = re.compile(
    r"^(?:(?:yes|yeah|sure|ok|okay|ja|gerne|hi|hallo|well|also)[, ]+)*"
    r"(?:my name is|my name's|the name is|name's|it's|it is|this is|i'm|i am|call me|"
    r"mein name ist|ich heiße|ich heisse|hier ist|ich bin|hier spricht|name ist)\s+")
_NAME_SUFFIX = re.compile(r"[\s,.]*(?:thanks|thank you|danke|bitte|please)?[\s,.!?]*$")
_SAME_NUMBER = re.compile(r"\b(this|same|my|the) (number|phone)\b|\bcalling from\b|"
                          r"\b(diese|dieselbe|gleiche|meine) nummer\b|\bvon der ich anrufe\b")
_MESSAGE_LEAD = re.compile(
    r"^.*?\b(?:leave a message|take a message|message for \w+|tell (?:him|her|them|\w+)|"
    r"let (?:him|her|them) know|nachricht hinterlassen|ausrichten,?|sagen sie (?:ihm|ihr))"
    r"\b[\s,:]*(?:that\b|dass\b)?\s*")
MIN_DIGITS, MAX_DIGITS = 5, 15
# A confirmation followed by this many words of something else carries the message too.
MIN_MESSAGE_WORDS = 3


@dataclass
class Step:
    """What a flow wants next: words to say, and possibly a record to store before saying them."""

    say: str
    record: dict[str, Any] | None = None
    finished: bool = False


def clean_name(text: str) -> str:
    """"uh my name is jana miller thanks" -> "Jana Miller"."""
    t = normalize(text).strip(" .,!?")
    t = _NAME_SUFFIX.sub("", _NAME_PREFIX.sub("", t))
    name = " ".join(w for w in words(t)[:4])
    return " ".join(w[:1].upper() + w[1:] for w in name.split())


@dataclass
class MessageFlow:
    """Name, call-back number (read back, confirmed), message; then a record to store."""

    profile: Profile
    caller: str = ""
    state: str = "name"
    name: str = ""
    number: str = ""
    text: str = ""
    dtmf: str = ""

    def start(self, request: str) -> str:
        """Begin the flow; a request that already carries the message keeps it."""
        rest = _MESSAGE_LEAD.sub("", normalize(request)).strip(" .,")
        if rest != normalize(request).strip(" .,") and len(rest.split()) >= 3:
            self.text = rest
        self.state = self._next("")
        return self.prompt()

    def _next(self, after: str) -> str:
        """The next state the profile wants collected after `after` ("" = the start)."""
        order = ["name", "number", "text"]
        for state in order[order.index(after) + 1 if after else 0:]:
            if state in self.profile.collect:
                return state
        return "done"

    def prompt(self) -> str:
        p = self.profile
        if self.state == "name":
            return p.say("message", "ask_name")
        if self.state == "number":
            return p.say("message", "ask_number", name=self.name)
        if self.state == "confirm":
            return p.say("message", "confirm_number", digits=spell_digits(self.number, p.language))
        return p.say("message", "ask_text", name=self.name)

    def on_text(self, text: str) -> Step:
        if is_cancel(text) and len(text.split()) <= 5:
            return Step(self.profile.say("message", "cancelled"), finished=True)
        handler = {"name": self._name, "number": self._number, "confirm": self._confirm,
                   "text": self._text}[self.state]
        return handler(text)

    def on_dtmf(self, digits: str) -> Step | None:
        """Keypad digits while TOM waits for the number; '#' ends it, '*' starts over."""
        if self.state not in ("number", "confirm"):
            return None
        for d in digits:
            if d == "*":
                self.dtmf = ""
            elif d == "#":
                return self.flush_dtmf() or Step(self.profile.say("message", "number_again"))
            elif d.isdigit():
                self.dtmf += d
        return None

    def flush_dtmf(self) -> Step | None:
        """Digits typed without '#': take them once the caller pauses."""
        if not self.dtmf:
            return None
        digits, self.dtmf = self.dtmf, ""
        return self._number(digits)

    def _name(self, text: str) -> Step:
        self.name = clean_name(text)
        if not self.name:
            return Step(self.profile.say("message", "ask_name"))
        self.state = self._next("name")
        return self._store() if self.state == "done" else Step(self.prompt())

    def _number(self, text: str) -> Step:
        digits = spoken_digits(text)
        if _SAME_NUMBER.search(normalize(text)) and len(self.caller.lstrip("+")) >= MIN_DIGITS \
                and len(digits) < MIN_DIGITS:
            digits = re.sub(r"[^\d+]", "", self.caller)
        if not MIN_DIGITS <= len(digits.lstrip("+")) <= MAX_DIGITS:
            return Step(self.profile.say("message", "number_again"))
        self.number = digits
        self.state = "confirm"
        return Step(self.prompt())

    def _confirm(self, text: str) -> Step:
        """The whole turn answers "is that number correct?"; a yes followed by a message in
        the same turn ("Yes, that's right, tell her I'm late") confirms and takes the message."""
        answer, rest = confirmation(text)
        if answer is True:
            self.state = self._next("number")
            if self.state == "text" and not self.text and len(rest.split()) >= MIN_MESSAGE_WORDS:
                self.text = rest
            if self.state == "done" or self.text:
                return self._store()
            return Step(self.prompt())
        if answer is False or len(spoken_digits(text)) >= MIN_DIGITS:
            if len(spoken_digits(text)) >= MIN_DIGITS:
                return self._number(text)
            self.state = "number"
            return Step(self.profile.say("message", "number_again"))
        return Step(self.prompt())

    def _text(self, text: str) -> Step:
        """The message; a bare "yes" / "that's correct" (the end of a confirmation heard as a turn
        of its own) is never the message: TOM asks for it again."""
        if not words(normalize(text)):
            return Step(self.prompt())
        answer, rest = confirmation(text)
        if answer is not None and not rest:
            return Step(self.prompt())
        # "Yes, so: the bike is still clicking" -> without the "yes"; "Please call" stays whole
        long_rest = answer is not None and len(rest.split()) >= MIN_MESSAGE_WORDS
        self.text = rest if long_rest else text.strip()
        return self._store()

    def _store(self) -> Step:
        record = {"kind": "message", "name": self.name, "callback_number": self.number,
                  "text": self.text}
        return Step(self.profile.say("message", "done", name=self.name), record=record,
                    finished=True)


@dataclass
class BookingFlow:
    """Day and time (checked against the opening hours), confirmation, name; then a record."""

    profile: Profile
    today: date
    state: str = "day"
    day: Day | None = None
    minute: int | None = None
    name: str = ""
    note: str = ""

    def start(self, request: str) -> str:
        self.note = request.strip()[:500]
        return self._take(request).say

    def prompt(self) -> str:
        p = self.profile
        if self.state == "day":
            return p.say("booking", "ask_day")
        if self.state == "time" and self.day:
            return p.say("booking", "ask_time", day=self.day.label)
        if self.state == "confirm" and self.day and self.minute is not None:
            return p.say("booking", "confirm", day=self.day.label, time=self.time_label)
        return p.say("booking", "ask_name")

    def understands(self, text: str) -> bool:
        """Whether `text` names a day or a time (an answer, not a side question)."""
        return parse_day(text, self.today, self.profile.language) is not None \
            or parse_time(text) is not None

    @property
    def time_label(self) -> str:
        return self.profile.lang.clock(self.minute or 0)

    def on_text(self, text: str) -> Step:
        if is_cancel(text) and len(text.split()) <= 5:
            return Step(self.profile.say("booking", "cancelled"), finished=True)
        if self.state == "name":
            self.name = clean_name(text)
            return self._store() if self.name else Step(self.prompt())
        if self.state == "confirm":
            answer = yes_no(text)
            if answer is True:
                self.state = "name"
                return Step(self.prompt())
            if answer is False and not parse_day(text, self.today, self.profile.language) \
                    and parse_time(text) is None:
                self.day, self.minute, self.state = None, None, "day"
                return Step(self.prompt())
            if answer is None and not parse_day(text, self.today, self.profile.language) \
                    and parse_time(text) is None:
                return Step(self.prompt())
        return self._take(text)

    def _take(self, text: str) -> Step:
        """Read a day and/or time from `text`, check them against the hours, ask what is missing."""
        p = self.profile
        rest = text
        if found := parse_day(text, self.today, p.language):
            self.day, rest = found
        weekday = self.day.date.weekday() if self.day else None
        minute = parse_time(rest, None if weekday is None else lambda m: p.is_open(weekday, m))
        if minute is not None:
            self.minute = minute
        if self.day is None or weekday is None:
            self.state = "day"
            return Step(self.prompt())
        if not p.hours[weekday]:
            label, self.day, self.state = self.day.label, None, "day"
            return Step(p.say("booking", "closed_day", day=label))
        if self.minute is None:
            self.state = "time"
            return Step(self.prompt())
        if not p.is_open(weekday, self.minute) and self.minute < 720 \
                and p.is_open(weekday, self.minute + 720):
            self.minute += 720  # "at three" on a day that is open in the afternoon
        if not p.is_open(weekday, self.minute):
            self.minute, self.state = None, "time"
            return Step(p.say("booking", "outside_hours", day=self.day.label,
                              hours=p.day_hours_text(weekday)))
        self.state = "confirm"
        return Step(self.prompt())

    def _store(self) -> Step:
        assert self.day is not None
        record = {"kind": "appointment", "name": self.name,
                  "day": f"{self.day.date.isoformat()} ({self.day.label})",
                  "time": f"{(self.minute or 0) // 60:02d}:{(self.minute or 0) % 60:02d}",
                  "note": self.note}
        return Step(self.profile.say("booking", "done", name=self.name, day=self.day.label,
                                     time=self.time_label), record=record, finished=True)
