"""The one registry of calls: admission up to `max_calls`, the live calls and their records.

A record is what an operator sees of a call (/api/calls), built from the call's own events; the
live call object sits next to it until its `CallEnded` event, when both leave together and the
record joins the recent ones. No task watches the calls: the bus tells the registry.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from tom.admission import LoadGate
from tom.monitor import events as ev

C = TypeVar("C")


@dataclass
class CallRecord:
    """What an operator can see of one call, built from its events."""

    id: str
    transport: str
    caller: str
    started_at: float = field(default_factory=time.time)
    started_ns: int = field(default_factory=time.monotonic_ns)
    state: str = "connecting"
    outcome: str | None = None
    ended_ns: int | None = None
    transcript: list[dict[str, Any]] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    barge_ins: list[dict[str, Any]] = field(default_factory=list)

    def apply(self, event: ev.Event) -> None:
        match event:
            case ev.StateChanged(dest=dest):
                self.state = dest
            case ev.Transcript():
                self.transcript.append({**event.data, "wall": event.wall})
            case ev.TurnTimed():
                self.turns.append(event.data)
            case ev.BargeIn():
                self.barge_ins.append(event.data)
            case ev.CallEnded(outcome=outcome):
                self.outcome = str(outcome)
                self.ended_ns = event.ts_ns

    def summary(self) -> dict[str, Any]:
        end = self.ended_ns or time.monotonic_ns()
        return {"id": self.id, "transport": self.transport, "caller": self.caller,
                "state": self.state, "started_at": self.started_at,
                "duration_s": round((end - self.started_ns) / 1e9, 1), "outcome": self.outcome}

    def detail(self) -> dict[str, Any]:
        return {**self.summary(), "transcript": list(self.transcript), "turns": list(self.turns),
                "barge_ins": list(self.barge_ins)}


class CallsBusy(RuntimeError):
    """All lines are taken (`server.max_calls`)."""


class CallRegistry(Generic[C]):
    """Admits calls up to `max_calls`; keeps the live calls with their records, and recent records."""

    def __init__(self, bus: ev.EventBus, max_calls: int, keep_recent: int = 200, *,
                 load: LoadGate | None = None) -> None:
        self.bus = bus
        self.max_calls = max_calls
        self.load = load  # admission by load (tom/admission.py) below the hard cap
        self.active: dict[str, CallRecord] = {}
        self.recent: deque[CallRecord] = deque(maxlen=keep_recent)
        self._live: dict[str, C] = {}
        bus.listen(self._on_event)
        if load is not None:
            bus.listen(load.on_event)

    @property
    def calls(self) -> Mapping[str, C]:
        """The live calls by id (read-only)."""
        return MappingProxyType(self._live)

    def admit(self, call_id: str, transport: str, caller: str,
              make: Callable[[CallRecord], C] | None = None) -> CallRecord:
        """Take a line for a call (raises `CallsBusy`); `make(record)` builds the live call."""
        if (busy := self.refusal()) is not None:
            self.reject(call_id, transport, caller, busy)
            raise CallsBusy(busy)
        if call_id in self.active:
            raise ValueError(f"call id {call_id} is already in use")
        record = CallRecord(call_id, transport, caller)
        if make is not None:
            self._live[call_id] = make(record)  # nothing is registered if this raises
        self.active[call_id] = record
        self.bus.publish(ev.CallStarted(call_id=call_id, transport=transport, caller=caller,
                                        started_at=record.started_at))
        return record

    def refusal(self) -> str | None:
        """Why a new call would be refused now (every line taken, or the box overloaded)."""
        if len(self.active) >= self.max_calls:
            return f"all {self.max_calls} lines are busy"
        if self.active and self.load is not None and (overload := self.load.overload()):
            return str(overload)
        return None

    def reject(self, call_id: str, transport: str, caller: str,
               reason: str = "all lines busy") -> None:
        record = CallRecord(call_id, transport, caller, state="ended", outcome=ev.Outcome.BUSY)
        record.ended_ns = record.started_ns
        self.recent.appendleft(record)
        self.bus.publish(ev.CallEnded(call_id=call_id, outcome=ev.Outcome.BUSY, duration_s=0.0,
                                      reason=reason, transport=transport))

    def _on_event(self, event: ev.Event) -> None:
        record = self.active.get(event.call_id)
        if record is None:
            return
        record.apply(event)
        if isinstance(event, ev.CallEnded):
            del self.active[event.call_id]
            self._live.pop(event.call_id, None)
            self.recent.appendleft(record)

    def live(self, call_id: str) -> C | None:
        return self._live.get(call_id)

    def get(self, call_id: str) -> CallRecord | None:
        return self.active.get(call_id) or next(
            (r for r in self.recent if r.id == call_id), None)

    def snapshot(self) -> list[dict[str, Any]]:
        return [r.summary() for r in self.active.values()]

    def listing(self) -> dict[str, list[dict[str, Any]]]:
        return {"active": self.snapshot(), "recent": [r.summary() for r in self.recent]}
