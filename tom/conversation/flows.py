"""The form-filling engine behind every request TOM takes down (flow_table.py lists them).

A flow asks for its slots in the declared order but takes any slot the caller gives early
("Friday at half past two" fills day and time at once) and any correction later ("no, Friday",
"not 5, 9"). It only decides what to say next and what to store; the Dialogue does the storing
(so a flow is pure and easy to test), handles goodbyes, side questions and trapped callers.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tom.conversation.flow_table import FLOWS, FlowKind, FlowSpec, Slot
from tom.conversation.intents import confirmation, is_cancel
from tom.conversation.numbers import spell_digits, spoken_digits
from tom.conversation.profile import Profile
from tom.conversation.slots import (
    CORRECTION,
    MAX_DIGITS,
    MIN_DIGITS,
    Collected,
    WhenReader,
    clean_name,
    message_in_request,
    name_in_request,
    phone_number,
)
from tom.conversation.text import normalize, words
from tom.conversation.when import (
    Day,
    at_time,
    drop_negated,
    in_window,
    parse_day,
    parse_time,
    parse_vague_day,
    parse_window,
    window_label,
)

_CANCEL_WORDS = re.compile(r"\b(cancel\w*|stornier\w*|absagen|abzusagen)\b")
MIN_MESSAGE_WORDS = 3  # a confirmation followed by this many words carries the message too
MAX_ASKS = 3  # a slot's question said once and repeated twice at most: then TOM stops asking
CONFIRM_NUMBER = "confirm_number"  # the state between hearing a number and its yes


@dataclass
class Step:
    """What a flow wants next: words to say, and possibly a record to store before saying them.

    `understood` is False when the turn filled nothing (a side question, small talk): the
    Dialogue then answers it instead of repeating the question."""

    say: str
    record: dict[str, Any] | None = None
    finished: bool = False
    understood: bool = True


@dataclass
class FormFlow:
    """One request being taken down; `FormFlow.start(...)` makes one from the caller's words."""

    profile: Profile
    spec: FlowSpec
    today: date
    caller: str = ""
    values: Collected = field(default_factory=Collected)
    note: str = ""
    dtmf: str = ""
    asked: Counter[str] = field(default_factory=Counter)

    # --- the flow's state --------------------------------------------------------------------
    @property
    def kind(self) -> FlowKind:
        return self.spec.kind

    @property
    def state(self) -> str:
        """The slot TOM is asking for (a Slot value), CONFIRM_NUMBER, or "done"."""
        v = self.values
        for slot in self.spec.slots:
            if slot is Slot.NUMBER and v.number and not v.number_ok:
                return CONFIRM_NUMBER
            if slot is Slot.TIME and v.day is not None and v.day.vague:
                continue  # "early next week": the workshop agrees the time
            if not v.has(slot):
                return slot.value
        return "done"

    @property
    def taking_words(self) -> bool:
        """Asking for a name or free text: "a person" or "bye" may be part of the answer."""
        return self.state in (Slot.NAME, Slot.TEXT)

    def _say(self, key: str, **values: str) -> str:
        return self.profile.say(self.spec.section, key, **values)

    # --- what TOM asks ----------------------------------------------------------------------
    def start(self, request: str) -> Step:
        """Begin with the caller's request; whatever it already says is kept."""
        self.note = request.strip()[:500]
        if self.spec.has(Slot.NAME):
            self.values.name = name_in_request(request)
        if self.spec.has(Slot.TEXT):
            self.values.text = message_in_request(request)
        if self.spec.has(Slot.DAY) or self.spec.has(Slot.OLD_DAY):
            problem = self._take_when(request)
            if problem:
                return self._asked(problem)
        return self._next()

    def prompt(self) -> str:
        """The question for the current state (not counted: re-prompts after silence use it)."""
        return self._question(self.state)

    def resume(self) -> str:
        """The current question after a side question: its `resume_` text if the profile has one."""
        state = self.state
        key = f"resume_{state}"
        if self.profile.has_text(self.spec.section, key):
            self.asked[state] += 1
            return self._say(key, **self._values())
        return self._ask()

    def _question(self, state: str) -> str:
        v, p = self.values, self.profile
        if state == CONFIRM_NUMBER:
            return self._say("confirm_number", digits=spell_digits(v.number, p.language))
        if state == Slot.CONFIRM:
            return self._say("confirm", **self._values())
        if state == Slot.TIME and v.day:
            return self._say("ask_time", day=v.day.label)
        if state in (Slot.NUMBER, Slot.TEXT):
            return self._say(f"ask_{state}", name=v.name)
        if state == Slot.OLD_DAY and self.spec.has(Slot.DAY):
            return self._say("ask_old_day", **self._values())
        return self._say(f"ask_{state}")

    def _ask(self) -> str:
        self.asked[self.state] += 1
        return self._question(self.state)

    def _asked(self, text: str) -> Step:
        """A step that asks again for the current state in other words (counted as asking)."""
        self.asked[self.state] += 1
        return Step(text)

    def _missed(self) -> Step:
        """The turn filled nothing: the Dialogue answers it or asks again (`again`)."""
        return Step("", understood=False)

    def again(self) -> str:
        """The current question once more (counted: see `over_asked`)."""
        return self._ask()

    def over_asked(self) -> bool:
        """A question was said more than MAX_ASKS times: the caller is going round in circles."""
        return any(n > MAX_ASKS for n in self.asked.values())

    def _next(self) -> Step:
        return self._store() if self.state == "done" else Step(self._ask())

    # --- what the caller says ---------------------------------------------------------------
    def on_text(self, text: str) -> Step:
        state = self.state
        if self.leaves(text):
            return Step(self._say("cancelled"), finished=True)
        if state == CONFIRM_NUMBER:
            return self._confirm_number(text)
        if state == Slot.CONFIRM:
            return self._confirm(text)
        if state == Slot.NUMBER:
            return self._number(text)
        if state == Slot.TEXT:
            return self._text(text)
        if state == Slot.NAME:
            if self._is_correction(text):
                return self._correct(text)
            self.values.name = clean_name(text)
            return self._next() if self.values.name else self._missed()
        return self._when(text)

    def leaves(self, text: str) -> bool:
        """ "never mind", "forget it", "vergessen Sie es": the caller wants out of this request.

        A yes ("yes, cancel it") confirms; in the cancel flow "cancel" is the request itself; a
        message may say "stop" in its own words, so there only a short turn leaves."""
        t = normalize(text)
        if self.spec.kind is FlowKind.CANCEL:
            t = _CANCEL_WORDS.sub(" ", t)
        limit = 3 if self.state == Slot.TEXT else 6
        return is_cancel(t) and len(t.split()) <= limit and confirmation(t)[0] is not True

    def _when(self, text: str) -> Step:
        """A day, a time or both (or "I don't know yet"); asks again if the turn has neither."""
        before = (self.values.day, self.values.old_day, self.values.minute, self.values.window)
        problem = self._take_when(text)
        if problem:
            return self._asked(problem)
        after = (self.values.day, self.values.old_day, self.values.minute, self.values.window)
        if after == before:
            return self._missed()
        return self._next()

    def _is_correction(self, text: str) -> bool:
        if not (self.spec.has(Slot.DAY) or self.spec.has(Slot.OLD_DAY)):
            return False
        t = normalize(text)
        found = parse_day(t, self.today, self.profile.language) or parse_time(t) is not None
        return bool(found and CORRECTION.search(t))

    def _correct(self, text: str) -> Step:
        """A changed day or time after the confirmation: check it and confirm again."""
        self.values.confirmed = False
        problem = self._take_when(text)
        return self._asked(problem) if problem else self._next()

    def _confirm(self, text: str) -> Step:
        """The whole turn answers "shall I note that down?"; new values in it are corrections."""
        answer, _ = confirmation(text)
        t = normalize(text)
        has_value = bool(parse_day(drop_negated(t), self.today, self.profile.language)
                         or parse_vague_day(t, self.today)
                         or (self.spec.has(Slot.TIME) and (parse_time(drop_negated(t)) is not None
                                                           or parse_window(t))))
        if has_value:
            before = (self.values.day, self.values.old_day, self.values.minute, self.values.window)
            step = self._correct(text)
            after = (self.values.day, self.values.old_day, self.values.minute, self.values.window)
            if answer is not True or after != before or self.state != Slot.CONFIRM:
                return step
            self.asked[Slot.CONFIRM] -= 1  # "yes, Friday at 3 is fine": the same values, a yes
        if answer is True:
            self.values.confirmed = True
            return self._next()
        if answer is False:  # wrong, but no new value: ask for the day(s) again
            v = self.values
            if self.spec.has(Slot.DAY):
                v.day, v.minute, v.window = None, None, None
            else:
                v.old_day = None
            return self._next()
        return self._missed()

    def _take_when(self, text: str) -> str | None:
        """Fill day, old day and time from `text`; returns what to say when one is impossible."""
        reader = WhenReader(self.profile, self.values, self.spec.slots, self.today, self.state)
        problem = reader.take_when(text)
        return self._say(problem.key, **problem.values) if problem else None

    def _number(self, text: str) -> Step:
        digits = phone_number(text, self.caller)
        if not digits:
            return self._missed()
        if not MIN_DIGITS <= len(digits.lstrip("+")) <= MAX_DIGITS:
            return self._asked(self._say("number_again"))
        self.values.number, self.values.number_ok = digits, False
        return Step(self._ask())

    def _confirm_number(self, text: str) -> Step:
        """The whole turn answers "is that number correct?"; a yes followed by a message in
        the same turn ("Yes, that's right, tell her I'm late") confirms and takes the message."""
        answer, rest = confirmation(text)
        v = self.values
        if answer is True:
            v.number_ok = True
            if self.state == Slot.TEXT and len(rest.split()) >= MIN_MESSAGE_WORDS:
                v.text = rest
            return self._next()
        if len(spoken_digits(text)) >= MIN_DIGITS:
            return self._number(text)
        if answer is False:
            v.number = ""
            return self._asked(self._say("number_again"))
        return self._missed()

    def _text(self, text: str) -> Step:
        """The message; a bare "yes" / "that's correct" (the end of a confirmation heard as a turn
        of its own) is never the message: TOM asks for it again."""
        if not words(normalize(text)):
            return Step(self._ask())
        answer, rest = confirmation(text)
        if answer is not None and not rest:
            return Step(self._ask())
        # "Yes, so: the bike is still clicking" -> without the "yes"; "Please call" stays whole
        long_rest = answer is not None and len(rest.split()) >= MIN_MESSAGE_WORDS
        self.values.text = rest if long_rest else text.strip()
        return self._next()

    # --- the keypad ---------------------------------------------------------------------------
    def on_dtmf(self, digits: str) -> Step | None:
        """Keypad digits while TOM waits for the number; '#' ends it, '*' starts over."""
        if self.state not in (Slot.NUMBER, CONFIRM_NUMBER):
            return None
        for d in digits:
            if d == "*":
                self.dtmf = ""
            elif d == "#":
                return self.flush_dtmf() or Step(self._say("number_again"))
            elif d.isdigit():
                self.dtmf += d
        return None

    def flush_dtmf(self) -> Step | None:
        """Digits typed without '#': take them once the caller pauses."""
        if not self.dtmf:
            return None
        digits, self.dtmf = self.dtmf, ""
        return self._number(digits)

    # --- what is stored ----------------------------------------------------------------------
    def _values(self) -> dict[str, str]:
        """Placeholders for the flow's texts, in the profile's language."""
        v, lg = self.values, self.profile.lang
        day = v.day.label if v.day else ""
        if v.minute is not None:
            time = lg.clock(v.minute)
            when = at_time(self.profile.language, day, time)
        elif v.window is not None and v.day and not v.day.vague:
            w, start, end = v.window
            time = window_label(w, self.profile.language, lg.clock,
                                self.profile.hours[v.day.date.weekday()], start, end)
            when = in_window(self.profile.language, day, time)
        else:
            time, when = "", day
        return {"name": v.name, "day": day, "time": time, "when": when,
                "old_day": v.old_day.label if v.old_day else "",
                "digits": spell_digits(v.number, self.profile.language) if v.number else ""}

    def _store(self) -> Step:
        record = self.record()
        return Step(self._say("done", **self._values()), record=record, finished=True)

    def record(self, incomplete: bool = False) -> dict[str, Any]:
        """What is stored (and sent to the webhook) for this request."""
        v = self.values
        text = v.text if self.spec.has(Slot.TEXT) or self.spec.kind is FlowKind.MESSAGE \
            else self.note
        if v.old_day and self.spec.has(Slot.DAY):
            text = f"[{_day_text(v.old_day)}] {text}"
        if incomplete:
            text = f"[{self.profile.say('flow', 'incomplete')}] {text}"
        time = ""
        if v.minute is not None:
            time = f"{v.minute // 60:02d}:{v.minute % 60:02d}"
        elif v.window is not None:
            a, b = v.window[1:]
            time = f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d} ({v.window[0].key})"
        day = v.day if self.spec.has(Slot.DAY) else v.old_day
        return {"kind": self.spec.record, "name": v.name,
                "callback_number": v.number if v.number_ok else "",
                "day": _day_text(day) if day else "", "time": time, "text": text.strip()}

    def partial_record(self) -> dict[str, Any] | None:
        """What the caller gave so far, marked incomplete; None if nothing worth passing on."""
        v = self.values
        if not (v.name or v.number_ok or v.text or v.day or v.old_day):
            return None
        return self.record(incomplete=True)


def _day_text(day: Day) -> str:
    """ "2025-05-08 (Thursday)"; a day the caller left open is only its label."""
    return day.label if day.date == date.min else f"{day.date.isoformat()} ({day.label})"


def start_flow(profile: Profile, kind: FlowKind | FlowSpec, request: str, *, today: date,
               caller: str = "") -> tuple[FormFlow, Step]:
    """A new flow of `kind` (falling back to a message when the profile lacks its texts)."""
    spec = kind if isinstance(kind, FlowSpec) else FLOWS[kind]
    if not profile.has_section(spec.section):
        spec = FLOWS[FlowKind.MESSAGE]
    if spec.kind is FlowKind.MESSAGE:
        spec = FlowSpec(spec.kind, spec.section, spec.intent, spec.record,
                        tuple(s for s in spec.slots if s.value in profile.collect))
    flow = FormFlow(profile, spec, today=today, caller=caller)
    return flow, flow.start(request)
