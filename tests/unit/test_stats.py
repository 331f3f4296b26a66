"""Rolling stage statistics: percentile math, window, snapshot shape."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tom.monitor.events import (
    TIMING_KEYS,
    BargeIn,
    CallEnded,
    CallError,
    CallStarted,
    EventBus,
    Outcome,
    TurnTimed,
)
from tom.monitor.stats import STAGES, StageStats, percentile


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("values", "p", "expected"), [
    ([1, 2, 3, 4], 50, 2.5),
    ([1, 2, 3, 4], 95, 3.85),
    ([1, 2, 3, 4], 0, 1),
    ([1, 2, 3, 4], 100, 4),
    ([4, 1, 3, 2], 25, 1.75),
    ([10], 95, 10),
    ([100, 200], 50, 150),
    ([100, 200], 95, 195),
    (list(range(1, 101)), 95, 95.05),
    ([5, 5, 5, 5, 50], 50, 5),
    ([5, 5, 5, 5, 50], 95, 41),
])
def test_percentile_known_lists(values: list[float], p: float, expected: float) -> None:
    assert percentile(values, p) == pytest.approx(expected)


def test_percentile_of_nothing_is_none_and_range_checked() -> None:
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


@given(st.lists(st.floats(0, 10_000, allow_nan=False), min_size=1, max_size=200),
       st.floats(0, 100))
def test_percentile_matches_numpy_linear(values: list[float], p: float) -> None:
    assert percentile(values, p) == pytest.approx(float(np.percentile(values, p)), abs=1e-6)


def turn(call_id: str, **timings: Any) -> TurnTimed:
    return TurnTimed(call_id=call_id, turn=1, intent="x", timings_ms=timings)


def test_snapshot_shape_and_targets() -> None:
    stats = StageStats(window_s=900)
    snap = stats.snapshot()
    assert snap["window_s"] == 900
    assert set(snap["stages"]) == set(STAGES) == {*TIMING_KEYS, "barge_in"} == {
        "vad_wait", "stt_queue", "stt", "llm_queue", "llm_first_token", "tts_queue",
        "tts_first_audio", "e2e", "barge_in"}
    targets = {name: s["target_ms"] for name, s in snap["stages"].items()}
    assert targets == {"vad_wait": None, "stt_queue": None, "stt": 200, "llm_queue": None,
                       "llm_first_token": 500, "tts_queue": None, "tts_first_audio": 300,
                       "e2e": 1000, "barge_in": 300}
    assert snap["stages"]["stt"] == {"p50_ms": None, "p95_ms": None, "count": 0,
                                     "target_ms": 200}
    assert snap["counters"] == {"calls": 0, "errors": 0, "busy": 0, "active": 0}
    assert snap["outcomes"]["completed"] == 0


def test_turns_and_barge_ins_feed_stages() -> None:
    stats = StageStats()
    for ms in (100, 200, 300, 400):
        stats.on_event(turn("c", stt=ms, e2e=ms * 3, vad_wait=250))
    stats.on_event(turn("c", stt=500))  # a turn without e2e leaves e2e alone
    stats.on_event(BargeIn(call_id="c", turn=1, reaction_ms=120, heard="Tschüs"))
    stages = stats.snapshot()["stages"]
    assert stages["stt"]["count"] == 5
    assert stages["stt"]["p50_ms"] == 300
    assert stages["stt"]["p95_ms"] == 480
    assert stages["e2e"]["count"] == 4
    assert stages["e2e"]["p50_ms"] == 750
    assert stages["vad_wait"]["p95_ms"] == 250
    assert stages["barge_in"] == {"p50_ms": 120, "p95_ms": 120, "count": 1, "target_ms": 300}
    assert stages["llm_first_token"]["count"] == 0
    assert all(stages[q]["count"] == 0 for q in ("stt_queue", "llm_queue", "tts_queue"))


def test_queue_wait_and_compute_are_separate_stages() -> None:
    stats = StageStats()
    stats.on_event(turn("c", stt_queue=300, stt=100, llm_queue=0, llm_first_token=400,
                        tts_queue=20, tts_first_audio=90))
    stats.on_event(turn("c", stt_queue=100, stt=120))  # FAQ turn: no LLM, no TTS queue
    stages = stats.snapshot()["stages"]
    assert stages["stt_queue"] == {"p50_ms": 200, "p95_ms": 290, "count": 2, "target_ms": None}
    assert stages["stt"]["p50_ms"] == 110
    assert stages["llm_queue"]["count"] == 1 and stages["llm_queue"]["p95_ms"] == 0
    assert stages["tts_queue"]["count"] == 1 and stages["tts_queue"]["p95_ms"] == 20


def test_old_samples_leave_the_window() -> None:
    clock = FakeClock()
    stats = StageStats(window_s=60, clock=clock)
    stats.on_event(turn("c", stt=1000))
    clock.now += 30
    stats.on_event(turn("c", stt=100))
    assert stats.snapshot()["stages"]["stt"]["count"] == 2
    clock.now += 31
    stt = stats.snapshot()["stages"]["stt"]
    assert stt["count"] == 1 and stt["p95_ms"] == 100


def test_sample_cap_keeps_newest() -> None:
    stats = StageStats(max_samples=3)
    for ms in (900, 900, 1, 2, 3):
        stats.on_event(turn("c", stt=ms))
    stt = stats.snapshot()["stages"]["stt"]
    assert stt["count"] == 3 and stt["p95_ms"] == pytest.approx(2.9)


def test_bad_values_are_ignored() -> None:
    stats = StageStats()
    stats.on_event(turn("c", stt="slow", e2e=-1, tts_first_audio=float("nan"), stt_queue=True))
    not_a_dict: Any = None
    stats.on_event(TurnTimed(call_id="c", turn=1, timings_ms=not_a_dict))
    stats.on_event(BargeIn(call_id="c", turn=1, reaction_ms=None))
    stages = stats.snapshot()["stages"]
    assert all(s["count"] == 0 for s in stages.values())


def test_outcomes_and_counters_via_bus() -> None:
    bus = EventBus()
    stats = StageStats()
    bus.listen(stats.on_event)
    bus.publish(CallStarted(call_id="a", transport="twilio", caller="x"))
    bus.publish(CallStarted(call_id="b", transport="twilio", caller="y"))
    bus.publish(CallStarted(call_id="c", transport="local", caller="z"))
    bus.publish(CallStarted(call_id="c", transport="local", caller="z"))  # repeated: one call
    bus.publish(CallError(call_id="a", kind="stt", message="m"))
    bus.publish(CallEnded(call_id="a", outcome=Outcome.COMPLETED, duration_s=1))
    bus.publish(CallEnded(call_id="b", outcome=Outcome.TRANSFERRED, duration_s=1))
    bus.publish(CallEnded(call_id="d", outcome=Outcome.BUSY, duration_s=0, reason="full"))
    snap = stats.snapshot()
    assert snap["counters"] == {"calls": 4, "errors": 1, "busy": 1, "active": 1}
    assert snap["outcomes"]["completed"] == 1
    assert snap["outcomes"]["transferred"] == 1
    assert snap["outcomes"]["busy"] == 1
    assert snap["outcomes"]["timeout"] == 0
