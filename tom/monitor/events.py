"""The in-process event bus: one typed stream that feeds metrics, logs, SSE and Redis.

Every stage publishes `Event`s; consumers subscribe with their own bounded queue so a slow
consumer drops its own events (counted) and never slows a call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

log = structlog.get_logger(__name__)

# Event types and the keys of their `data`:
CALL_STARTED = "call_started"  # transport, caller, started_at (unix s)
STATE_CHANGED = "state_changed"  # source, dest, trigger
TRANSCRIPT = "transcript"  # role ("caller" | "assistant"), text, turn, interrupted (bool)
TURN = "turn"  # turn, timings_ms {vad_wait, stt, llm_first_token, tts_first_audio, e2e}, intent
BARGE_IN = "barge_in"  # turn, reaction_ms, heard (text TOM had spoken when cut off)
DTMF = "dtmf"  # digit
MESSAGE_TAKEN = "message_taken"  # id, kind ("message" | "appointment")
CALL_ENDED = "call_ended"  # outcome, duration_s, reason
ERROR = "error"  # kind, message

EVENT_TYPES = (
    CALL_STARTED, STATE_CHANGED, TRANSCRIPT, TURN, BARGE_IN, DTMF, MESSAGE_TAKEN, CALL_ENDED, ERROR,
)


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened in one call (or in the process when call_id is empty)."""

    type: str
    call_id: str
    data: dict[str, Any] = field(default_factory=dict)
    ts_ns: int = field(default_factory=time.monotonic_ns)
    wall: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "call_id": self.call_id, "ts_ns": self.ts_ns,
                "wall": self.wall, "data": self.data}


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

    def publish(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken consumer must not break the call that published
                log.exception("event listener failed", listener=repr(listener), type=event.type)
        for sub in list(self._subs):
            sub.offer(event)

    def emit(self, type: str, call_id: str, **data: Any) -> Event:
        event = Event(type, call_id, data)
        self.publish(event)
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
