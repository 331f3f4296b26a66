"""Metrics from synthetic event sequences."""

from __future__ import annotations

from typing import Any

import pytest

from tom.monitor.events import (
    BargeIn,
    CallEnded,
    CallError,
    CallStarted,
    EventBus,
    Outcome,
    Role,
    Transcript,
    TurnTimed,
)
from tom.monitor.metrics import Metrics


@pytest.fixture
def bus_metrics() -> tuple[EventBus, Metrics]:
    bus = EventBus()
    metrics = Metrics(process_metrics=False)
    bus.listen(metrics.on_event)
    return bus, metrics


def value(metrics: Metrics, name: str, **labels: str) -> float:
    got = metrics.registry.get_sample_value(name, labels)
    return 0.0 if got is None else got


def one_call(bus: EventBus, call_id: str = "c1", transport: str = "twilio") -> None:
    bus.publish(CallStarted(call_id=call_id, transport=transport, caller="+49 170 1234567",
                            started_at=1.0))
    bus.publish(Transcript(call_id=call_id, role=Role.CALLER, text="Grüß Gott", turn=1))
    bus.publish(TurnTimed(call_id=call_id, turn=1, intent="faq", timings_ms={
        "vad_wait": 300, "stt_queue": 40, "stt": 120, "llm_queue": 5, "llm_first_token": 450,
        "tts_queue": 0, "tts_first_audio": 90, "e2e": 980}))
    bus.publish(TurnTimed(call_id=call_id, turn=2, intent="faq",  # FAQ answer: no LLM stage
                          timings_ms={"vad_wait": 310, "stt_queue": 260, "stt": 130,
                                      "tts_first_audio": 80, "e2e": 600}))
    bus.publish(BargeIn(call_id=call_id, turn=2, reaction_ms=140, heard="Unsere Öffnungszeiten"))
    bus.publish(CallError(call_id=call_id, kind="tts", message="voice crashed"))
    bus.publish(CallEnded(call_id=call_id, outcome=Outcome.COMPLETED, duration_s=42.0,
                          reason="bye"))


def test_call_sequence_fills_every_series(bus_metrics: tuple[EventBus, Metrics]) -> None:
    bus, m = bus_metrics
    one_call(bus)
    assert value(m, "tom_calls_total", transport="twilio", outcome="completed") == 1
    assert value(m, "tom_turns_total") == 2
    assert value(m, "tom_barge_ins_total") == 1
    assert value(m, "tom_errors_total", kind="tts") == 1
    assert value(m, "tom_stt_seconds_count") == 2
    assert value(m, "tom_stt_seconds_sum") == pytest.approx(0.25)
    assert value(m, "tom_llm_first_token_seconds_count") == 1
    assert value(m, "tom_e2e_seconds_sum") == pytest.approx(1.58)
    assert value(m, "tom_e2e_seconds_bucket", le="1.0") == 2
    assert value(m, "tom_e2e_seconds_bucket", le="0.75") == 1
    assert value(m, "tom_vad_wait_seconds_count") == 2
    assert value(m, "tom_barge_in_reaction_seconds_bucket", le="0.15") == 1
    assert value(m, "tom_barge_in_reaction_seconds_bucket", le="0.1") == 0
    assert value(m, "tom_active_calls") == 0
    assert value(m, "tom_calls_rejected_total") == 0


def test_queue_wait_has_its_own_histogram_per_stage(bus_metrics: tuple[EventBus, Metrics]
                                                    ) -> None:
    bus, m = bus_metrics
    one_call(bus)
    assert value(m, "tom_stage_queue_seconds_count", stage="stt") == 2
    assert value(m, "tom_stage_queue_seconds_sum", stage="stt") == pytest.approx(0.3)
    assert value(m, "tom_stage_queue_seconds_bucket", stage="stt", le="0.05") == 1
    assert value(m, "tom_stage_queue_seconds_count", stage="llm") == 1  # FAQ turn: no LLM
    assert value(m, "tom_stage_queue_seconds_count", stage="tts") == 1  # a zero wait counts
    assert value(m, "tom_stage_queue_seconds_bucket", stage="tts", le="0.025") == 1
    # compute stays apart from the wait
    assert value(m, "tom_stt_seconds_sum") == pytest.approx(0.25)


def test_turns_without_queue_keys_still_count(bus_metrics: tuple[EventBus, Metrics]) -> None:
    bus, m = bus_metrics
    bus.publish(TurnTimed(call_id="c", turn=1, timings_ms={"stt": 100, "e2e": 700}))
    assert value(m, "tom_turns_total") == 1
    assert value(m, "tom_stt_seconds_count") == 1
    for stage in ("stt", "llm", "tts"):
        assert value(m, "tom_stage_queue_seconds_count", stage=stage) == 0


def test_active_calls_gauge_follows_start_and_end(bus_metrics: tuple[EventBus, Metrics]) -> None:
    bus, m = bus_metrics
    bus.publish(CallStarted(call_id="a", transport="audiosocket", caller="1"))
    bus.publish(CallStarted(call_id="b", transport="local", caller="2"))
    assert value(m, "tom_active_calls") == 2
    bus.publish(CallEnded(call_id="a", outcome=Outcome.HUNG_UP_BY_CALLER, duration_s=3))
    assert value(m, "tom_active_calls") == 1
    assert value(m, "tom_calls_total", transport="audiosocket", outcome="hung_up_by_caller") == 1


def test_busy_call_counts_as_rejected(bus_metrics: tuple[EventBus, Metrics]) -> None:
    bus, m = bus_metrics
    bus.publish(CallEnded(call_id="x", outcome=Outcome.BUSY, duration_s=0,
                          reason="all lines busy", transport="twilio"))
    assert value(m, "tom_calls_rejected_total") == 1
    assert value(m, "tom_calls_total", transport="twilio", outcome="busy") == 1
    assert value(m, "tom_active_calls") == 0


def test_labels_stay_bounded_and_impersonal(bus_metrics: tuple[EventBus, Metrics]) -> None:
    bus, m = bus_metrics
    one_call(bus)
    for i in range(100):
        bus.publish(CallError(call_id="c", kind=f"kind_{i}", message="x"))
    bus.publish(CallError(call_id="c", kind="Caller +49 170 1234567 said Grüß Gott"))
    made_up: Any = "made-up outcome"  # what a buggy publisher could still send
    bus.publish(CallEnded(call_id="d", outcome=made_up, duration_s=1))
    text = m.render()[0].decode("utf-8")
    error_series = [line for line in text.splitlines() if line.startswith("tom_errors_total{")]
    assert len(error_series) <= 33
    assert value(m, "tom_errors_total", kind="other") > 0
    assert value(m, "tom_calls_total", transport="unknown", outcome="other") == 1
    assert "1234567" not in text and "Grüß" not in text and "Öffnungszeiten" not in text


def test_malformed_events_are_ignored_not_raised(bus_metrics: tuple[EventBus, Metrics]) -> None:
    bus, m = bus_metrics
    garbage: Any = "garbage"
    bus.publish(TurnTimed(call_id="c", turn=1, timings_ms=garbage))
    bus.publish(TurnTimed(call_id="c", turn=2, timings_ms={
        "stt": "fast", "e2e": -5, "tts_first_audio": True, "stt_queue": float("nan"),
        "llm_queue": None}))
    bus.publish(BargeIn(call_id="c", turn=1, reaction_ms=None))
    bus.publish(CallError(call_id="c", kind=""))
    assert value(m, "tom_stt_seconds_count") == 0
    assert value(m, "tom_stage_queue_seconds_count", stage="stt") == 0
    assert value(m, "tom_stage_queue_seconds_count", stage="llm") == 0
    assert value(m, "tom_e2e_seconds_count") == 0
    assert value(m, "tom_tts_first_audio_seconds_count") == 0
    assert value(m, "tom_barge_ins_total") == 1
    assert value(m, "tom_turns_total") == 2


def test_model_load_gauge_and_redis_drops() -> None:
    m = Metrics(process_metrics=False)
    m.set_model_load("stt", 1.25)
    m.set_model_load("llm", 3.5)
    m.count_redis_dropped(3)
    assert value(m, "tom_model_load_seconds", stage="stt") == 1.25
    assert value(m, "tom_model_load_seconds", stage="llm") == 3.5
    assert value(m, "tom_redis_dropped_total") == 3


def test_two_instances_do_not_collide() -> None:
    a, b = Metrics(), Metrics()
    a.turns.inc()
    assert value(a, "tom_turns_total") == 1
    assert value(b, "tom_turns_total") == 0


def test_render_is_prometheus_text() -> None:
    m = Metrics()
    body, content_type = m.render()
    assert content_type.startswith("text/plain")
    text = body.decode("utf-8")
    for name in ("tom_vad_wait_seconds", "tom_stt_seconds", "tom_llm_first_token_seconds",
                 "tom_tts_first_audio_seconds", "tom_e2e_seconds",
                 "tom_barge_in_reaction_seconds", "tom_turns_total", "tom_barge_ins_total",
                 "tom_calls_rejected_total", "tom_redis_dropped_total", "tom_active_calls",
                 "tom_stage_queue_seconds"):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name
    for stage in ("stt", "llm", "tts"):  # before the first turn, so dashboards have a series
        assert f'tom_stage_queue_seconds_count{{stage="{stage}"}} 0.0' in text, stage


def test_broken_listener_does_not_stop_others() -> None:
    bus, m = EventBus(), Metrics(process_metrics=False)

    def broken(_event: object) -> None:
        raise RuntimeError("boom")

    bus.listen(broken)  # runs first and raises on every event
    bus.listen(m.on_event)
    bus.publish(TurnTimed(call_id="c", turn=1, timings_ms={"stt": 100}))
    bus.publish(TurnTimed(call_id="c", turn=2, timings_ms={"stt": 100}))
    assert value(m, "tom_turns_total") == 2
