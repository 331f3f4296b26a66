"""Admission by load: the gate refuses new calls only on evidence that turns wait too long."""

from __future__ import annotations

import pytest

from tom import admission
from tom.admission import LoadGate
from tom.monitor import events as ev
from tom.registry import CallRegistry, CallsBusy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def turn(stt_queue: float, tts_queue: float = 0.0, llm_queue: float | None = None) -> ev.TurnTimed:
    timings = {"stt_queue": stt_queue, "tts_queue": tts_queue, "stt": 80.0, "e2e": 500.0}
    if llm_queue is not None:
        timings["llm_queue"] = llm_queue
    return ev.TurnTimed(call_id="CA1", turn=1, intent="question", timings_ms=timings)


def test_turns_that_wait_too_long_close_the_door_and_it_opens_when_they_age_out():
    clock = Clock()
    gate = LoadGate(300.0, clock=clock)
    for wait in (100, 200, 250, 400, 500, 600):
        gate.on_event(turn(wait, 20.0))
    overload = gate.overload()
    assert overload is not None and overload.queue_p95_ms > 300.0
    assert "capacity" in str(overload) and "300 ms" in str(overload)
    clock.now += admission.WINDOW_S + 1
    assert gate.overload() is None  # old evidence says nothing about now


def test_waits_of_a_turn_add_up_and_a_fast_box_admits():
    gate = LoadGate(300.0, clock=Clock())
    for _ in range(10):
        gate.on_event(turn(100.0, 90.0, llm_queue=90.0))  # 280 ms in all: under the limit
    assert gate.overload() is None
    for _ in range(10):
        gate.on_event(turn(150.0, 90.0, llm_queue=90.0))  # 330 ms
    assert gate.overload() is not None


def test_few_turns_or_a_gate_set_to_zero_never_refuse():
    gate = LoadGate(100.0, clock=Clock())
    for _ in range(admission.MIN_TURNS - 1):
        gate.on_event(turn(5000.0))
    assert gate.overload() is None
    off = LoadGate(0.0, clock=Clock())
    for _ in range(20):
        off.on_event(turn(5000.0))
    assert off.overload() is None


def test_odd_timings_are_ignored():
    gate = LoadGate(100.0, clock=Clock())
    for bad in (float("nan"), -5.0, True):
        gate.on_event(ev.TurnTimed(call_id="x", turn=1, intent="q",
                                   timings_ms={"stt_queue": bad}))
    assert gate.overload() is None


def test_the_registry_refuses_a_new_call_on_load_but_never_the_first():
    bus = ev.EventBus()
    gate = LoadGate(100.0, clock=Clock())
    registry: CallRegistry[object] = CallRegistry(bus, max_calls=8, load=gate)
    for _ in range(6):
        bus.publish(turn(900.0))
    registry.admit("CA1", "twilio", "")  # an idle box admits whatever the old turns said
    ended: list[ev.CallEnded] = []
    bus.listen(lambda e: isinstance(e, ev.CallEnded) and ended.append(e))
    with pytest.raises(CallsBusy, match="capacity"):
        registry.admit("CA2", "twilio", "")
    assert ended and ended[0].outcome == ev.Outcome.BUSY and "capacity" in ended[0].reason
    assert registry.refusal() is not None and "CA2" not in registry.active
