"""The call flow: TOM's state and the caller's state, each a transitions table.

TOM greets, listens, thinks, speaks, transfers and hangs up; independently the caller is silent
or speaking. Keeping them apart means a caller who cuts in while TOM talks does not erase that
TOM was talking. Operators see one combined `state` (the caller speaking shows as
`caller_speaking` over TOM's own state), published as a `StateChanged` event when it changes.

A trigger that is not allowed in the current state is a bug in the call: with `strict` (tests
set TOM_STRICT_FLOW=1) it raises `InvalidTransition`; in production it is logged as a warning
and the state stays as it was.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import structlog
from transitions import Machine, MachineError

from tom.monitor import events as ev

log = structlog.get_logger(__name__)

# transitions narrates every state change at INFO; TOM publishes its own `StateChanged`.
logging.getLogger("transitions").setLevel(logging.WARNING)

STRICT_BY_DEFAULT = os.environ.get("TOM_STRICT_FLOW", "") == "1"


class TomState(StrEnum):
    CONNECTING = "connecting"
    GREETING = "greeting"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    TRANSFERRING = "transferring"
    ENDING = "ending"
    ENDED = "ended"


class CallerState(StrEnum):
    SILENT = "silent"
    SPEAKING = "speaking"


CALLER_SPEAKING = "caller_speaking"  # the combined state while the caller talks
STATES = [*(s.value for s in TomState), CALLER_SPEAKING]  # every combined state

_T = TomState
LIVE = [_T.CONNECTING, _T.GREETING, _T.LISTENING, _T.THINKING, _T.SPEAKING]
# trigger, from, to: TOM's side of the call-flow spec.
TOM_TRANSITIONS: list[list[Any]] = [
    ["greet", _T.CONNECTING, _T.GREETING],
    ["listen", [_T.CONNECTING, _T.GREETING, _T.LISTENING, _T.THINKING, _T.SPEAKING],
     _T.LISTENING],
    ["think", [_T.LISTENING, _T.SPEAKING], _T.THINKING],  # a caller turn ended
    ["reply", [_T.GREETING, _T.LISTENING, _T.THINKING, _T.SPEAKING], _T.SPEAKING],
    ["transfer", LIVE, _T.TRANSFERRING],
    ["finish", [*LIVE, _T.TRANSFERRING], _T.ENDING],
    ["close", list(TomState), _T.ENDED],
]
CALLER_TRANSITIONS: list[list[Any]] = [
    ["starts", CallerState.SILENT, CallerState.SPEAKING],
    ["stops", CallerState.SPEAKING, CallerState.SILENT],
]
_TOM_FIRST = (_T.CONNECTING, _T.TRANSFERRING, _T.ENDING, _T.ENDED)  # shown even over the caller


class InvalidTransition(RuntimeError):
    """A trigger that the call flow does not allow in its current state (strict mode)."""


class _Side:
    """One side of the call (TOM or the caller): a state and the table that moves it."""

    state: str

    def __init__(self, states: Sequence[str], transitions: list[list[Any]], initial: str) -> None:
        self.machine = Machine(model=self, states=states, transitions=transitions,
                               initial=initial, auto_transitions=False)

    def fire(self, trigger: str) -> None:
        """Raises `MachineError` when `trigger` is not allowed in the current state."""
        self.machine.events[trigger].trigger(self)


class CallFlow:
    """One call's state; each change of the combined state is published as `StateChanged`."""

    def __init__(self, call_id: str, bus: ev.EventBus, *, strict: bool | None = None) -> None:
        self.call_id = call_id
        self.bus = bus
        self.strict = STRICT_BY_DEFAULT if strict is None else strict
        self._tom = _Side(list(TomState), TOM_TRANSITIONS, _T.CONNECTING)
        self._caller = _Side(list(CallerState), CALLER_TRANSITIONS, CallerState.SILENT)

    # --- what happened (each one is a trigger, or two that are published as one change) ----

    def greet(self) -> None:
        self._change("greet", tom="greet")

    def listen(self) -> None:
        """TOM has nothing to say and waits for the caller."""
        self._change("listen", tom="listen")

    def caller_starts(self, *, cuts_off_tom: bool = False) -> None:
        """The caller began to speak; `cuts_off_tom`: TOM's reply was dropped for it."""
        self._change("caller_starts", caller="starts", tom="listen" if cuts_off_tom else None)

    def caller_stops(self) -> None:
        """The caller's turn ended: TOM thinks about it."""
        self._change("caller_stops", caller="stops", tom="think")

    def reply(self) -> None:
        self._change("reply", tom="reply")

    def transfer(self) -> None:
        self._change("transfer", tom="transfer")

    def finish(self) -> None:
        self._change("finish", tom="finish")

    def close(self) -> None:
        self._change("close", tom="close")

    # --- state --------------------------------------------------------------------------------

    @property
    def tom(self) -> TomState:
        return TomState(self._tom.state)

    @property
    def caller(self) -> CallerState:
        return CallerState(self._caller.state)

    @property
    def state(self) -> str:
        """The combined state operators see: the caller speaking shows over TOM's own state."""
        if self.tom in _TOM_FIRST or self.caller is CallerState.SILENT:
            return self.tom.value
        return CALLER_SPEAKING

    def _change(self, name: str, *, tom: str | None = None, caller: str | None = None) -> None:
        before = self.state
        if caller is not None:
            self._fire(self._caller, caller, name)
        if tom is not None:
            self._fire(self._tom, tom, name)
        after = self.state
        if after != before:
            self.bus.publish(ev.StateChanged(call_id=self.call_id, source=before, dest=after,
                                             trigger=name))

    def _fire(self, side: _Side, trigger: str, name: str) -> None:
        try:
            side.fire(trigger)
        except MachineError as exc:
            problem = (f"call flow: {name!r} is not allowed while TOM is {self.tom} and the "
                       f"caller is {self.caller}")
            if self.strict:
                raise InvalidTransition(problem) from exc
            log.warning("invalid call flow trigger", call_id=self.call_id, trigger=name,
                        tom=str(self.tom), caller=str(self.caller))
