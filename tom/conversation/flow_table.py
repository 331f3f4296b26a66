"""The requests TOM takes down, declared as a table: which slots each asks for, in which order.

A flow is one row: the profile section that holds its spoken texts (one `ask_<slot>` per slot,
`confirm`, `done`, `cancelled`, ...), the slots it collects, the intent the Dialogue reports for
it and the kind of record it stores. The engine (flows.py) is the same for every row, so a new
kind of request is a new row here plus a section of texts in each profile (docs/conversation.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Slot(StrEnum):
    """One thing a flow asks the caller for."""

    NAME = "name"
    NUMBER = "number"  # a call-back number, read back digit by digit and confirmed
    TEXT = "text"  # free words passed on as they were said
    OLD_DAY = "old_day"  # the day of an existing appointment
    DAY = "day"  # a wanted day, checked against the opening hours
    TIME = "time"  # a clock time or a part of the day ("afternoon"), within the hours
    CONFIRM = "confirm"  # the whole request read back; a yes is needed to go on


class FlowKind(StrEnum):
    MESSAGE = "message"
    BOOKING = "booking"
    RESCHEDULE = "reschedule"
    CANCEL = "cancel_appointment"
    CALLBACK = "callback"
    CUSTOM = "custom"  # a request the business declares in its profile ([[requests]])


@dataclass(frozen=True)
class FlowSpec:
    """One kind of request: where its texts live and what it collects."""

    kind: FlowKind
    section: str  # the profile section with this flow's texts
    intent: str  # the Dialogue's intent name for its turns (booking | message)
    record: str  # the `kind` column of what it stores
    slots: tuple[Slot, ...]  # asked in this order; values given early are kept

    def has(self, slot: Slot) -> bool:
        return slot in self.slots


FLOWS: dict[FlowKind, FlowSpec] = {spec.kind: spec for spec in (
    FlowSpec(FlowKind.MESSAGE, "message", "message", "message",
             (Slot.NAME, Slot.NUMBER, Slot.TEXT)),
    FlowSpec(FlowKind.BOOKING, "booking", "booking", "appointment",
             (Slot.DAY, Slot.TIME, Slot.CONFIRM, Slot.NAME)),
    FlowSpec(FlowKind.RESCHEDULE, "reschedule", "booking", "reschedule",
             (Slot.DAY, Slot.TIME, Slot.OLD_DAY, Slot.CONFIRM, Slot.NAME)),
    FlowSpec(FlowKind.CANCEL, "cancel_appointment", "booking", "cancellation",
             (Slot.OLD_DAY, Slot.CONFIRM, Slot.NAME)),
    FlowSpec(FlowKind.CALLBACK, "callback", "message", "callback",
             (Slot.NAME, Slot.NUMBER)),
)}
RECORD_KINDS = tuple(dict.fromkeys(spec.record for spec in FLOWS.values()))

# The texts of each flow section: key -> the placeholders it may use. `when` is the day and time
# as one phrase ("Thursday at 3 pm", "Thursday in the afternoon, from 12 pm to 6 pm").
_WHEN = ("day", "time", "when")
FLOW_TEXTS: dict[str, dict[str, tuple[str, ...]]] = {
    "reschedule": {
        "ask_day": (), "ask_time": ("day",), "ask_old_day": ("day", "when"),
        "closed_day": ("day",), "outside_hours": ("day", "hours"),
        "confirm": ("old_day", *_WHEN), "ask_name": (), "done": ("name", "old_day", *_WHEN),
        "cancelled": (),
    },
    "cancel_appointment": {
        "ask_old_day": (), "confirm": ("old_day",), "ask_name": (), "done": ("name", "old_day"),
        "cancelled": (),
    },
    "callback": {
        "intro": (), "ask_name": (), "ask_number": ("name",), "confirm_number": ("digits",),
        "number_again": (), "done": ("name", "digits"), "cancelled": (),
    },
    "flow": {
        "goodbye_kept": ("business",), "goodbye_offer": (), "gave_up": (), "gave_up_empty": (),
        "incomplete": (), "any_day": (),
    },
}
# Texts a flow section may add: `resume_<slot>` is said after TOM answered a side question
# ("Now, what time on Thursday suits you?"); without it the slot's question is asked again.
OPTIONAL_TEXTS: dict[str, dict[str, tuple[str, ...]]] = {
    "message": {"resume_name": (), "resume_number": ("name",), "resume_text": ("name",)},
    "booking": {"resume_day": (), "resume_time": ("day",), "resume_name": ()},
    "reschedule": {"intro": (), "resume_day": (), "resume_time": ("day",), "resume_old_day": (),
                   "resume_name": ()},
    "cancel_appointment": {"intro": (), "resume_old_day": (), "resume_name": ()},
    "callback": {"resume_name": (), "resume_number": ("name",)},
}
GOODBYE_POLICIES = ("keep", "offer", "drop")

# A request the business declares itself ([[requests]] in the profile): the slots it may collect
# and, per slot, the texts it then needs (each may use these placeholders).
REQUEST_SLOTS = (Slot.NAME, Slot.NUMBER, Slot.TEXT, Slot.DAY, Slot.TIME, Slot.CONFIRM)
_ALL = ("name", "day", "time", "when", "digits")
REQUEST_TEXTS: dict[Slot | None, dict[str, tuple[str, ...]]] = {
    None: {"done": _ALL, "cancelled": ()},
    Slot.NAME: {"ask_name": ()},
    Slot.NUMBER: {"ask_number": ("name",), "confirm_number": ("digits",), "number_again": ()},
    Slot.TEXT: {"ask_text": ("name",)},
    Slot.DAY: {"ask_day": (), "closed_day": ("day",)},
    Slot.TIME: {"ask_time": ("day",), "outside_hours": ("day", "hours")},
    Slot.CONFIRM: {"confirm": _ALL},
}
REQUEST_OPTIONAL = {"intro": (), **{f"resume_{s.value}": ("name", "day") for s in REQUEST_SLOTS}}


@dataclass(frozen=True)
class DeclaredRequest:
    """A [[requests]] entry of the profile: its flow and the phrases that start it."""

    spec: FlowSpec
    triggers: tuple[str, ...]


def request_spec(section: str, slots: tuple[Slot, ...]) -> FlowSpec:
    """The row for a request the business declared: stored with its own id as the kind."""
    intent = "booking" if Slot.DAY in slots else "message"
    return FlowSpec(FlowKind.CUSTOM, section, intent, section, slots)
