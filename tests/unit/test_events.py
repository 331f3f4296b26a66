"""Typed events: the wire shape, its inverse, and the bus that fans them out."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from tom.monitor import events as ev
from tom.monitor.events import (
    EVENT_CLASSES,
    BargeIn,
    CallEnded,
    CallError,
    CallStarted,
    Dtmf,
    Event,
    EventBus,
    EventType,
    MessageTaken,
    Outcome,
    Role,
    StateChanged,
    Transcript,
    TurnTimed,
    event_from_dict,
)

CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "CONTRACTS.md"

# One filled-in example of every event class, with umlauts wherever text can go.
EXAMPLES: list[Event] = [
    CallStarted(call_id="c1", transport="twilio", caller="Jürgen Groß", started_at=1.5),
    StateChanged(call_id="c1", source="greeting", dest="listening", trigger="greeted"),
    Transcript(call_id="c1", role=Role.CALLER, text="Grüß Gott, wann öffnen Sie?", turn=1),
    Transcript(call_id="c1", role=Role.ASSISTANT, text="Um acht Uhr.", turn=1, interrupted=True),
    TurnTimed(call_id="c1", turn=1, intent="hours",
              timings_ms={"vad_wait": 300.0, "stt_queue": 12.5, "stt": 120.0, "e2e": 870.0},
              marks_ms={"eot_detected": 300.0, "first_frame_out": 870.0}),
    BargeIn(call_id="c1", turn=2, reaction_ms=140.0, heard="Unsere Öffnungszeiten"),
    BargeIn(call_id="c1", turn=3, reaction_ms=None),
    Dtmf(call_id="c1", digit="#"),
    MessageTaken(call_id="c1", id=7, kind="appointment"),
    CallEnded(call_id="c1", outcome=Outcome.COMPLETED, duration_s=31.5, reason="Tschüß",
              transport="twilio"),
    CallError(call_id="", kind="bad_request", message="Ungültige Anfrage"),
]


def test_every_class_has_an_example() -> None:
    assert {type(e) for e in EXAMPLES} == set(EVENT_CLASSES.values())
    assert set(EVENT_CLASSES) == set(EventType)


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: f"{type(e).__name__}")
def test_round_trip_through_json(event: Event) -> None:
    wire = json.loads(json.dumps(event.to_dict(), ensure_ascii=False))
    back = event_from_dict(wire)
    assert back == event
    assert type(back) is type(event)


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: f"{type(e).__name__}")
def test_wire_shape_is_envelope_plus_data(event: Event) -> None:
    wire = event.to_dict()
    assert set(wire) == {"type", "call_id", "ts_ns", "wall", "data"}
    assert wire["type"] == str(event.type) and type(wire["type"]) is str
    own = {f.name for f in dataclasses.fields(event)} - {"call_id", "ts_ns", "wall"}
    assert set(wire["data"]) == own  # the envelope is not repeated inside data


def test_enums_become_plain_strings() -> None:
    wire = Transcript(call_id="c", role=Role.CALLER, text="x", turn=1).to_dict()
    assert type(wire["data"]["role"]) is str and wire["data"]["role"] == "caller"
    ended = CallEnded(call_id="c", outcome=Outcome.BUSY, duration_s=0).to_dict()
    assert type(ended["data"]["outcome"]) is str
    back = event_from_dict(ended)
    assert isinstance(back, CallEnded) and back.outcome is Outcome.BUSY


def test_umlauts_survive_json_as_they_are() -> None:
    event = Transcript(call_id="c", role=Role.CALLER, text="Grüße aus Köln, Straße", turn=1)
    text = json.dumps(event.to_dict(), ensure_ascii=False)
    assert "Grüße aus Köln, Straße" in text
    back = event_from_dict(json.loads(text.encode("utf-8").decode("utf-8")))
    assert isinstance(back, Transcript) and back.text == "Grüße aus Köln, Straße"


def test_envelope_survives_and_data_is_a_copy() -> None:
    timings = {"e2e": 800.0}
    event = TurnTimed(call_id="c9", turn=1, timings_ms=timings, ts_ns=42, wall=1.25)
    wire = event.to_dict()
    assert (wire["call_id"], wire["ts_ns"], wire["wall"]) == ("c9", 42, 1.25)
    wire["data"]["timings_ms"]["e2e"] = 0
    assert event.timings_ms["e2e"] == 800.0
    back = event_from_dict(event.to_dict())
    assert (back.ts_ns, back.wall) == (42, 1.25)


@pytest.mark.parametrize("bad", [
    {},
    {"type": "no_such_event", "call_id": "c", "data": {}},
    {"type": "transcript", "call_id": "c", "data": {"role": "caller"}},  # text, turn missing
    {"type": "transcript", "call_id": "c", "data": {"role": "robot", "text": "x", "turn": 1}},
    {"type": "call_ended", "call_id": "c", "data": {"outcome": "exploded", "duration_s": 1}},
    {"type": "dtmf", "call_id": "c", "data": {"digit": "1", "colour": "red"}},
    {"type": "dtmf", "call_id": "c", "data": ["digit", "1"]},
])
def test_a_bad_dict_is_a_value_error(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not a TOM event"):
        event_from_dict(bad)


def test_events_are_frozen() -> None:
    event = Dtmf(call_id="c", digit="5")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.digit = "6"  # type: ignore[misc]


def test_bus_fans_out_to_listeners_and_subscribers_in_order() -> None:
    bus = EventBus()
    heard: list[Event] = []
    bus.listen(heard.append)
    a, b = bus.subscribe(), bus.subscribe()
    for event in EXAMPLES[:3]:
        assert bus.publish(event) is event
    assert heard == EXAMPLES[:3]
    for sub in (a, b):
        assert [sub.queue.get_nowait() for _ in range(3)] == EXAMPLES[:3]
        assert sub.dropped == 0
    assert bus.subscriber_count == 2
    a.close()
    a.close()  # closing twice is harmless
    assert bus.subscriber_count == 1


def test_a_full_subscriber_drops_and_counts_without_slowing_others() -> None:
    bus = EventBus()
    dropped: list[Event] = []
    slow = bus.subscribe(maxsize=2, on_drop=dropped.append)
    fast = bus.subscribe(maxsize=100)
    sent = [Dtmf(call_id="c", digit=str(i)) for i in range(5)]
    for event in sent:
        bus.publish(event)
    assert slow.queue.qsize() == 2 and slow.dropped == 3
    assert dropped == sent[2:]
    assert fast.queue.qsize() == 5 and fast.dropped == 0


def test_a_broken_listener_never_reaches_the_publisher() -> None:
    bus = EventBus()
    after: list[Event] = []

    def broken(_event: Event) -> None:
        raise RuntimeError("boom")

    bus.listen(broken)
    bus.listen(after.append)
    bus.publish(EXAMPLES[0])
    assert after == [EXAMPLES[0]]


async def test_subscription_iterates_in_publish_order() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    for event in EXAMPLES:
        bus.publish(event)
    got: list[Event] = []

    async def take() -> None:
        async for event in sub:
            got.append(event)
            if len(got) == len(EXAMPLES):
                return

    await asyncio.wait_for(take(), 5)
    assert got == EXAMPLES


def test_timing_keys_pair_each_compute_stage_with_its_queue() -> None:
    assert set(ev.QUEUE_KEYS) <= set(ev.TIMING_KEYS)
    assert set(ev.QUEUE_KEYS.values()) <= set(ev.TIMING_KEYS)
    for compute, queue in ev.QUEUE_KEYS.items():  # the wait comes before its compute
        assert ev.TIMING_KEYS.index(queue) < ev.TIMING_KEYS.index(compute)


def _bullets(doc: str) -> list[str]:
    """Markdown list items, each joined with its indented continuation lines."""
    items: list[str] = []
    for line in doc.splitlines():
        if line.startswith("- "):
            items.append(line)
        elif items and line.startswith("  "):
            items[-1] += " " + line.strip()
        else:
            items.append("")
    return [item for item in items if item]


def test_contracts_doc_names_every_event_class_and_field() -> None:
    doc = CONTRACTS.read_text(encoding="utf-8")
    bullets = _bullets(doc)
    for cls in EVENT_CLASSES.values():
        item = next((b for b in bullets if b.startswith(f"- `{cls.__name__}`")), None)
        assert item is not None, f"docs/CONTRACTS.md has no item for {cls.__name__}"
        assert f"(`{cls.type}`)" in item, f"{cls.__name__}: its type string is not listed"
        for f in dataclasses.fields(cls):
            if f.name not in ("call_id", "ts_ns", "wall"):
                assert f.name in item, f"{cls.__name__}.{f.name} is not listed"
    for key in ev.TIMING_KEYS:
        assert f"`{key}`" in doc, f"timing key {key} is not documented"
