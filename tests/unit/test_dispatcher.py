import pytest

from tom.dispatcher import CallFlow, CallRegistry, CallsBusy
from tom.monitor import events as ev


def test_flow_reads_like_the_call_spec():
    bus = ev.EventBus()
    seen = []
    bus.listen(lambda e: seen.append((e.data["source"], e.data["dest"])))
    flow = CallFlow("c1", bus)
    for trigger in ("greet", "listen", "caller_starts", "caller_stops", "reply", "listen",
                    "caller_starts", "caller_stops", "reply", "caller_starts", "finish", "close"):
        getattr(flow, trigger)()
    assert flow.state == "ended"
    assert seen[:5] == [("connecting", "greeting"), ("greeting", "listening"),
                        ("listening", "caller_speaking"), ("caller_speaking", "thinking"),
                        ("thinking", "speaking")]
    assert ("speaking", "caller_speaking") in seen  # barge-in


def test_invalid_trigger_is_ignored():
    flow = CallFlow("c1", ev.EventBus())
    flow.caller_stops()  # not possible from connecting
    assert flow.state == "connecting"


def test_registry_admits_up_to_max_and_keeps_records():
    bus = ev.EventBus()
    reg = CallRegistry(bus, max_calls=2)
    reg.admit("a", "twilio", "+1555")
    reg.admit("b", "audiosocket", "")
    with pytest.raises(CallsBusy):
        reg.admit("c", "twilio", "+1666")
    assert [c["id"] for c in reg.listing()["recent"]] == ["c"]
    assert reg.get("c").outcome == "busy"
    bus.emit(ev.TRANSCRIPT, "a", role="caller", text="Grüß Gott", turn=1, interrupted=False)
    bus.emit(ev.TURN, "a", turn=1, intent="question", timings_ms={"e2e": 500}, marks_ms={})
    bus.emit(ev.CALL_ENDED, "a", outcome="completed", duration_s=3.0, reason="")
    assert [c["id"] for c in reg.snapshot()] == ["b"]
    detail = reg.get("a").detail()
    assert detail["outcome"] == "completed"
    assert detail["transcript"][0]["text"] == "Grüß Gott"
    assert detail["turns"][0]["timings_ms"]["e2e"] == 500
