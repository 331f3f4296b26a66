"""Typed events and the in-process bus that carries them to metrics, logs, SSE and Redis.

Every stage publishes one frozen dataclass per thing that happened; consumers match on the
class (`case Transcript(role=Role.CALLER, text=text)`), never on string keys. `to_dict` is the
one wire shape (SSE, Redis, logs), `event_from_dict` its inverse. A consumer subscribes with its
own bounded queue, so a slow consumer drops its own events (counted) and never slows a call.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import structlog

log = structlog.get_logger(__name__)


class EventType(StrEnum):
    CALL_STARTED = "call_started"
    STATE_CHANGED = "state_changed"
    TRANSCRIPT = "transcript"
    TURN = "turn"
    BARGE_IN = "barge_in"
    DTMF = "dtmf"
    MESSAGE_TAKEN = "message_taken"
    CALL_ENDED = "call_ended"
    ERROR = "error"


class Role(StrEnum):
    CALLER = "caller"
    ASSISTANT = "assistant"


class Outcome(StrEnum):
    """How a call ended; one label of `tom_calls_total` each."""

    COMPLETED = "completed"
    TRANSFERRED = "transferred"
    HUNG_UP_BY_CALLER = "hung_up_by_caller"
    TIMEOUT = "timeout"
    BUSY = "busy"
    ERROR = "error"


# The string constants older code and scripts compare `event.type` with.
CALL_STARTED = EventType.CALL_STARTED
STATE_CHANGED = EventType.STATE_CHANGED
TRANSCRIPT = EventType.TRANSCRIPT
TURN = EventType.TURN
BARGE_IN = EventType.BARGE_IN
DTMF = EventType.DTMF
MESSAGE_TAKEN = EventType.MESSAGE_TAKEN
CALL_ENDED = EventType.CALL_ENDED
ERROR = EventType.ERROR
EVENT_TYPES = tuple(EventType)
OUTCOMES = tuple(Outcome)

_ENVELOPE = ("call_id", "ts_ns", "wall")

# `TurnTimed.timings_ms` keys in pipeline order. `stt`, `llm_first_token` and `tts_first_audio`
# are compute only; the `*_queue` key beside each is the wait for that stage's worker thread.
TIMING_KEYS = ("vad_wait", "stt_queue", "stt", "llm_queue", "llm_first_token", "tts_queue",
               "tts_first_audio", "e2e")
QUEUE_KEYS: Mapping[str, str] = {"stt": "stt_queue", "llm_first_token": "llm_queue",
                                 "tts_first_audio": "tts_queue"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One thing that happened in one call (or in the process when `call_id` is empty)."""

    type: ClassVar[EventType]
    call_id: str
    ts_ns: int = field(default_factory=time.monotonic_ns)
    wall: float = field(default_factory=time.time)

    @property
    def data(self) -> dict[str, Any]:
        """The event's own fields (everything but the envelope), JSON-ready."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)
                if f.name not in _ENVELOPE}

    def to_dict(self) -> dict[str, Any]:
        return {"type": str(self.type), "call_id": self.call_id, "ts_ns": self.ts_ns,
                "wall": self.wall, "data": self.data}


@dataclass(frozen=True, slots=True, kw_only=True)
class CallStarted(Event):
    type = EventType.CALL_STARTED
    transport: str
    caller: str = ""
    started_at: float = 0.0  # unix seconds


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChanged(Event):
    type = EventType.STATE_CHANGED
    source: str
    dest: str
    trigger: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcript(Event):
    type = EventType.TRANSCRIPT
    role: Role
    text: str
    turn: int
    interrupted: bool = False
    # A caller line that holds the words of an earlier caller turn too (the caller went on
    # after a pause TOM took for the end): that turn's line is superseded by this one.
    joins: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnTimed(Event):
    """A reply's first audio left for the caller: every stage's time in this turn.

    `timings_ms` are stage durations keyed by `TIMING_KEYS` (`e2e` = end of caller speech →
    first frame out; a stage that did not run is absent, e.g. no LLM for an FAQ answer);
    `marks_ms` are offsets from the end of caller speech.
    """

    type = EventType.TURN
    turn: int
    intent: str = ""
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    marks_ms: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class BargeIn(Event):
    type = EventType.BARGE_IN
    turn: int
    reaction_ms: float | None
    heard: str = ""  # what TOM had said when the caller cut in


@dataclass(frozen=True, slots=True, kw_only=True)
class Dtmf(Event):
    type = EventType.DTMF
    digit: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageTaken(Event):
    type = EventType.MESSAGE_TAKEN
    id: int | str | None
    kind: str  # "message" | "appointment"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEnded(Event):
    type = EventType.CALL_ENDED
    outcome: Outcome
    duration_s: float
    reason: str = ""
    transport: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallError(Event):
    """A call (or, with an empty call id, a refused connection) went wrong."""

    type = EventType.ERROR
    kind: str
    message: str = ""


EVENT_CLASSES: dict[EventType, type[Event]] = {
    cls.type: cls for cls in (CallStarted, StateChanged, Transcript, TurnTimed, BargeIn, Dtmf,
                              MessageTaken, CallEnded, CallError)
}


def event_from_dict(d: Mapping[str, Any]) -> Event:
    """The inverse of `Event.to_dict` (Redis readers, tests); raises ValueError on a bad dict."""
    try:
        cls = EVENT_CLASSES[EventType(d["type"])]
        data = dict(d.get("data") or {})
        if cls is Transcript:
            data["role"] = Role(data["role"])
        elif cls is CallEnded:
            data["outcome"] = Outcome(data["outcome"])
        envelope = {k: d[k] for k in ("ts_ns", "wall") if k in d}
        return cls(call_id=str(d.get("call_id", "")), **envelope, **data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a TOM event: {exc}") from exc


def _plain(value: Any) -> Any:
    if isinstance(value, StrEnum):
        return str(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


class Subscription:
    """A consumer's bounded queue; `dropped` counts what overflowed, `on_drop` hears of each."""

    def __init__(self, bus: EventBus, maxsize: int,
                 on_drop: Callable[[Event], None] | None = None) -> None:
        self._bus = bus
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.dropped = 0
        self._on_drop = on_drop

    def offer(self, event: Event) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            if self._on_drop is not None:
                self._on_drop(event)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            yield await self.queue.get()

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    """Fan-out of events to synchronous listeners and async subscribers; never blocks."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._listeners: list[Callable[[Event], None]] = []

    def publish(self, event: Event) -> Event:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken consumer must not break the call that published
                log.exception("event listener failed", listener=repr(listener), type=event.type)
        for sub in list(self._subs):
            sub.offer(event)
        return event

    def listen(self, listener: Callable[[Event], None]) -> None:
        """Register a cheap synchronous listener (metrics, call records)."""
        self._listeners.append(listener)

    def subscribe(self, maxsize: int = 1000,
                  on_drop: Callable[[Event], None] | None = None) -> Subscription:
        sub = Subscription(self, maxsize, on_drop)
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    @property
    def subscriber_count(self) -> int:
        """Open async subscriptions (SSE clients, Redis mirror); lets tests see cleanup."""
        return len(self._subs)
