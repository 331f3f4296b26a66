"""The call flow as a state machine table, and the registry that admits and remembers calls."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from transitions import Machine

from tom.monitor import events as ev

# transitions logs every callback at INFO and each ignored trigger at WARNING; the state changes
# that matter are TOM's own `state_changed` events.
logging.getLogger("transitions").setLevel(logging.ERROR)

STATES = ["connecting", "greeting", "listening", "caller_speaking", "thinking", "speaking",
          "transferring", "ending", "ended"]
LIVE = ["connecting", "greeting", "listening", "caller_speaking", "thinking", "speaking"]

# trigger, from, to — reads like the call-flow spec.
TRANSITIONS = [
    ["greet", "connecting", "greeting"],
    ["listen", ["connecting", "greeting", "caller_speaking", "thinking", "speaking"], "listening"],
    ["caller_starts", ["listening", "greeting", "thinking", "speaking"], "caller_speaking"],
    ["caller_stops", "caller_speaking", "thinking"],
    ["reply", ["thinking", "listening", "caller_speaking", "greeting"], "speaking"],
    ["transfer", LIVE, "transferring"],
    ["finish", [*LIVE, "transferring"], "ending"],
    ["close", STATES, "ended"],
]

OUTCOMES = ("completed", "transferred", "hung_up_by_caller", "timeout", "busy", "error")


class CallFlow:
    """One call's state; each change is published as a `state_changed` event."""

    state: str

    def __init__(self, call_id: str, bus: ev.EventBus) -> None:
        self.call_id = call_id
        self.bus = bus
        self.machine = Machine(model=self, states=STATES, transitions=TRANSITIONS,
                               initial="connecting", ignore_invalid_triggers=True,
                               after_state_change="_published", send_event=True)

    def _published(self, event) -> None:
        self.bus.emit(ev.STATE_CHANGED, self.call_id, source=event.transition.source,
                      dest=event.transition.dest, trigger=event.event.name)


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
        d = event.data
        if event.type == ev.STATE_CHANGED:
            self.state = d["dest"]
        elif event.type == ev.TRANSCRIPT:
            self.transcript.append({**d, "wall": event.wall})
        elif event.type == ev.TURN:
            self.turns.append(dict(d))
        elif event.type == ev.BARGE_IN:
            self.barge_ins.append(dict(d))
        elif event.type == ev.CALL_ENDED:
            self.outcome = d["outcome"]
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


class CallRegistry:
    """Admits calls up to `max_calls`, keeps active and recent call records."""

    def __init__(self, bus: ev.EventBus, max_calls: int, keep_recent: int = 200) -> None:
        self.bus = bus
        self.max_calls = max_calls
        self.active: dict[str, CallRecord] = {}
        self.recent: deque[CallRecord] = deque(maxlen=keep_recent)
        self._on_end: list[Callable[[str], None]] = []
        bus.listen(self._on_event)

    def admit(self, call_id: str, transport: str, caller: str) -> CallRecord:
        if len(self.active) >= self.max_calls:
            self.reject(call_id, transport, caller)
            raise CallsBusy(f"all {self.max_calls} lines are busy")
        if call_id in self.active:
            raise ValueError(f"call id {call_id} is already in use")
        record = CallRecord(call_id, transport, caller)
        self.active[call_id] = record
        self.bus.emit(ev.CALL_STARTED, call_id, transport=transport, caller=caller,
                      started_at=record.started_at)
        return record

    def reject(self, call_id: str, transport: str, caller: str) -> None:
        record = CallRecord(call_id, transport, caller, state="ended", outcome="busy")
        record.ended_ns = record.started_ns
        self.recent.appendleft(record)
        self.bus.emit(ev.CALL_ENDED, call_id, outcome="busy", duration_s=0.0,
                      reason="all lines busy", transport=transport)

    def _on_event(self, event: ev.Event) -> None:
        record = self.active.get(event.call_id)
        if record is None:
            return
        record.apply(event)
        if event.type == ev.CALL_ENDED:
            del self.active[event.call_id]
            self.recent.appendleft(record)

    def get(self, call_id: str) -> CallRecord | None:
        return self.active.get(call_id) or next(
            (r for r in self.recent if r.id == call_id), None)

    def snapshot(self) -> list[dict[str, Any]]:
        return [r.summary() for r in self.active.values()]

    def listing(self) -> dict[str, list[dict[str, Any]]]:
        return {"active": self.snapshot(), "recent": [r.summary() for r in self.recent]}
