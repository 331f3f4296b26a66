"""The call registry: admission up to max_calls, live calls beside their records, no watchers."""

import pytest

from tom.monitor import events as ev
from tom.registry import CallRegistry, CallsBusy


def test_registry_admits_up_to_max_and_keeps_records():
    bus = ev.EventBus()
    reg = CallRegistry(bus, max_calls=2)
    reg.admit("a", "twilio", "+1555")
    reg.admit("b", "audiosocket", "")
    with pytest.raises(CallsBusy):
        reg.admit("c", "twilio", "+1666")
    assert [c["id"] for c in reg.listing()["recent"]] == ["c"]
    assert reg.get("c").outcome == "busy"
    bus.publish(ev.Transcript(call_id="a", role=ev.Role.CALLER, text="Grüß Gott", turn=1))
    bus.publish(ev.TurnTimed(call_id="a", turn=1, intent="question", timings_ms={"e2e": 500}))
    bus.publish(ev.BargeIn(call_id="a", turn=1, reaction_ms=80.0, heard="Hello"))
    bus.publish(ev.StateChanged(call_id="a", source="listening", dest="thinking",
                                trigger="caller_stops"))
    assert reg.get("a").state == "thinking"
    bus.publish(ev.CallEnded(call_id="a", outcome=ev.Outcome.COMPLETED, duration_s=3.0))
    assert [c["id"] for c in reg.snapshot()] == ["b"]
    detail = reg.get("a").detail()
    assert detail["outcome"] == "completed"
    assert detail["transcript"][0]["text"] == "Grüß Gott"
    assert detail["transcript"][0]["role"] == "caller"
    assert detail["turns"][0]["timings_ms"]["e2e"] == 500
    assert detail["barge_ins"][0]["heard"] == "Hello"


def test_live_calls_sit_beside_their_records_and_leave_with_call_ended():
    bus = ev.EventBus()
    reg: CallRegistry[str] = CallRegistry(bus, max_calls=3)
    record = reg.admit("a", "twilio", "+1555", make=lambda r: f"call {r.id}")
    assert record.id == "a" and dict(reg.calls) == {"a": "call a"} and reg.live("a") == "call a"
    with pytest.raises(TypeError):
        reg.calls["x"] = "sneaked in"  # type: ignore[index]
    bus.publish(ev.CallEnded(call_id="a", outcome=ev.Outcome.HUNG_UP_BY_CALLER, duration_s=1.0))
    assert not reg.calls and not reg.active and reg.get("a").outcome == "hung_up_by_caller"


def test_a_call_that_cannot_be_built_takes_no_line():
    bus = ev.EventBus()
    started: list[ev.Event] = []
    bus.listen(started.append)
    reg: CallRegistry[str] = CallRegistry(bus, max_calls=1)

    def broken(_record: object) -> str:
        raise ValueError("bad rate")

    with pytest.raises(ValueError):
        reg.admit("a", "twilio", "", make=broken)
    assert not reg.active and not reg.calls and started == []
    reg.admit("b", "twilio", "", make=lambda r: "ok")  # the line is still free


def test_a_duplicate_call_id_is_refused():
    reg = CallRegistry(ev.EventBus(), max_calls=3)
    reg.admit("a", "twilio", "")
    with pytest.raises(ValueError, match="already in use"):
        reg.admit("a", "twilio", "")
