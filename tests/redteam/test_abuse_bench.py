"""`tom bench --abuse` figures: gaps are counted inside TOM's replies only, never across the
caller's own turn."""

from __future__ import annotations

from collections import Counter

from tom.bench.abuse_bench import _figures, _phase, reply_jitter
from tom.bench.caller import CallResult, TurnResult
from tom.bench.line import Received

MS = 1_000_000


def _call(frames_ms: list[int], turns: list[tuple[int, int, int | None]]) -> CallResult:
    """frames_ms: arrival of TOM's frames; turns: (speech start, speech end, reply start)."""
    result = CallResult("CA1", "MZ1", greeting_ns=frames_ms[0] * MS, ended_ns=10_000 * MS)
    result.received = [Received("media", t * MS, samples=160) for t in frames_ms]
    result.turns = [TurnResult(f"t{i}", "", speech_start_ns=a * MS, speech_end_ns=b * MS,
                               reply_start_ns=None if r is None else r * MS)
                    for i, (a, b, r) in enumerate(turns)]
    return result


def test_the_callers_turn_is_not_a_gap() -> None:
    greeting = list(range(0, 1000, 20))
    reply = list(range(3000, 4000, 20))
    jitter = reply_jitter(_call(greeting + reply, [(1500, 2500, 3000)]))
    assert jitter.max_gap_ms == 20.0 and jitter.gaps_over_100ms == 0
    assert jitter.frames == len(greeting) + len(reply)


def test_a_stall_inside_a_reply_is_counted() -> None:
    reply = [*range(3000, 3400, 20), 3650, 3670, 3900]
    jitter = reply_jitter(_call([0, 20] + reply, [(1500, 2500, 3000)]))
    assert jitter.max_gap_ms == 270.0 and jitter.gaps_over_100ms == 2


def test_a_turn_without_reply_keeps_the_windows_aligned() -> None:
    frames = [0, 20, 40, 5000, 5020]
    jitter = reply_jitter(_call(frames, [(1000, 2000, None), (3000, 4000, 5000)]))
    assert jitter.max_gap_ms == 20.0 and jitter.frames == 5


def test_figures_compare_means_against_the_targets() -> None:
    idle = _phase(_call([0, 20], [(100, 200, 600)]))
    abused = _phase(_call([0, 20], [(100, 200, 640)]))
    figures = _figures(idle, abused, Counter({"storm": 3}), 12.0)
    assert figures["e2e_ratio"] == 1.1 and figures["passed"]
    slow = _figures(idle, _phase(_call([0, 20], [(100, 200, 700)])), Counter(), 12.0)
    assert not slow["checks"]["e2e within 10 % of idle"] and not slow["passed"]
