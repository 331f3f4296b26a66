"""What the Redis mirror writes for each event class (no Redis: a pipeline that records)."""

from __future__ import annotations

import json
from typing import Any

from tom.monitor.events import (
    BargeIn,
    CallEnded,
    CallError,
    CallStarted,
    Dtmf,
    Event,
    Outcome,
    Role,
    StateChanged,
    Transcript,
    TurnTimed,
)
from tom.monitor.redis_mirror import RedisMirror, call_fields


class RecordingPipe:
    """Stands in for a redis pipeline: keeps every command it is given."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> None:
            self.commands.append((name, args, kwargs))
        return record

    def of(self, name: str) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        return [(a, k) for n, a, k in self.commands if n == name]


def written(event: Event, redact: bool = False) -> RecordingPipe:
    mirror = RedisMirror("redis://127.0.0.1:1/0", stream="s", redact=redact, instance="h:1")
    pipe = RecordingPipe()
    mirror._add_commands(pipe, event)
    return pipe


def test_summary_fields_per_class() -> None:
    started = CallStarted(call_id="c", transport="twilio", caller="Jürgen", started_at=100.5,
                          wall=200.0)
    assert call_fields(started) == {"transport": "twilio", "caller": "Jürgen",
                                    "started_at": "100.5", "state": "started", "turns": "0"}
    assert call_fields(StateChanged(call_id="c", source="a", dest="listening", trigger="t")) == {
        "state": "listening"}
    assert call_fields(TurnTimed(call_id="c", turn=3, intent="hours",
                                 timings_ms={"stt_queue": 5, "e2e": 870})) == {
        "last_turn": "3", "last_intent": "hours", "last_e2e_ms": "870"}
    assert call_fields(TurnTimed(call_id="c", turn=4)) == {"last_turn": "4", "last_intent": ""}
    assert call_fields(CallError(call_id="c", kind="stt")) == {"last_error": "stt"}
    ended = CallEnded(call_id="c", outcome=Outcome.TIMEOUT, duration_s=31.5, reason="Ruhe",
                      wall=300.25)
    assert call_fields(ended) == {"state": "ended", "outcome": "timeout", "duration_s": "31.5",
                                  "reason": "Ruhe", "ended_at": "300.25"}
    assert call_fields(Dtmf(call_id="c", digit="1")) == {}


def test_a_start_without_its_own_time_uses_the_event_time() -> None:
    fields = call_fields(CallStarted(call_id="c", transport="local", wall=123.5))
    assert fields["started_at"] == "123.5"


def test_odd_timings_leave_the_e2e_field_out() -> None:
    garbage: Any = "garbage"
    assert "last_e2e_ms" not in call_fields(TurnTimed(call_id="c", turn=1, timings_ms=garbage))


def test_stream_entry_is_the_wire_shape() -> None:
    event = Transcript(call_id="c7", role=Role.CALLER, text="Grüß Gott", turn=1, ts_ns=42,
                       wall=1.5)
    pipe = written(event)
    ((args, kwargs),) = pipe.of("xadd")
    stream, entry = args
    assert stream == "s" and kwargs == {"maxlen": 10000, "approximate": True}
    assert entry["type"] == "transcript" and type(entry["type"]) is str
    assert (entry["call_id"], entry["ts"], entry["ts_ns"], entry["instance"]) == (
        "c7", "1.5", "42", "h:1")
    assert "Grüß Gott" in entry["data"]
    assert json.loads(entry["data"]) == event.to_dict()["data"]


def test_counters_follow_the_event_class() -> None:
    for event, counter in ((TurnTimed(call_id="c", turn=1), "turns"),
                           (BargeIn(call_id="c", turn=1, reaction_ms=100), "barge_ins"),
                           (CallError(call_id="c", kind="tts"), "errors")):
        assert written(event).of("hincrby") == [(("tom:call:c", counter, 1), {})]
    assert written(Dtmf(call_id="c", digit="5")).of("hincrby") == []


def test_a_process_event_writes_no_call_hash() -> None:
    pipe = written(CallError(call_id="", kind="bad_request", message="x"))
    assert [name for name, _, _ in pipe.commands] == ["xadd"]


def test_redaction_masks_numbers_and_text_in_stream_and_hash() -> None:
    pipe = written(CallStarted(call_id="c", transport="twilio", caller="+49 170 1234567",
                               started_at=100.5), redact=True)
    ((args, _),) = pipe.of("xadd")
    assert "1234567" not in args[1]["data"] and "***67" in args[1]["data"]
    summary = pipe.of("hset")[0][1]["mapping"]
    assert summary["caller"] == "***67" and summary["started_at"] == "100.5"
    pipe = written(Transcript(call_id="c", role=Role.CALLER, text="Ich heiße Jürgen", turn=1),
                   redact=True)
    assert "Jürgen" not in pipe.of("xadd")[0][0][1]["data"]
    pipe = written(CallEnded(call_id="c", outcome=Outcome.COMPLETED, duration_s=1,
                             reason="call me on 0761 4589320"), redact=True)
    summary = pipe.of("hset")[0][1]["mapping"]
    assert "4589320" not in summary["reason"] and summary["outcome"] == "completed"
