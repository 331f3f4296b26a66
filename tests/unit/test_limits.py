"""The bounds on what one caller may cost: pending connections and inbound audio rate."""

from __future__ import annotations

from tom.telephony.limits import ConnectionLimits, Guards, InboundMeter, PendingGate


def test_pending_gate_caps_per_source_and_in_total_and_frees_slots_once() -> None:
    gate = PendingGate(per_source=2, total=3)
    a1, a2 = gate.enter("a"), gate.enter("a")
    assert a1 is not None and a2 is not None
    assert gate.enter("a") is None  # per source
    b1 = gate.enter("b")
    assert b1 is not None
    assert gate.enter("c") is None  # in total
    a1.release()
    a1.release()  # twice is harmless
    assert len(gate) == 2
    assert gate.enter("c") is not None


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_inbound_meter_allows_real_time_plus_a_burst_and_no_more() -> None:
    clock = Clock()
    meter = InboundMeter(2.0, clock=clock)
    for _ in range(100):  # 10 s of audio in 10 s, in 100 ms chunks
        clock.now += 0.1
        assert meter.take(0.1)
    clock.now += 1.0  # the network stalls, then delivers what it held
    assert meter.take(1.9)
    assert not meter.take(0.2)  # then nothing more ahead of the clock


def test_guards_build_their_state_from_the_limits() -> None:
    guards = Guards(ConnectionLimits(pending_per_source=1, refusals_per_min=1))
    assert guards.pending.enter("x") is not None and guards.pending.enter("x") is None
    assert guards.refusals.allow("x") and not guards.refusals.allow("x")


def test_limits_come_from_the_settings_and_bad_origins_are_refused() -> None:
    import pytest

    from tom.config import ConfigError, Settings
    from tom.telephony.limits import ConnectionLimits

    settings = Settings.load(overrides={"limits": {
        "start_timeout_s": 3, "browser_origins": ["https://ops.example.org/"]}})
    limits = ConnectionLimits.from_settings(settings.limits)
    assert limits.start_timeout_s == 3.0
    assert limits.browser_origins == ("https://ops.example.org",)
    with pytest.raises(ConfigError, match="limits.browser_origins"):
        Settings.load(overrides={"limits": {"browser_origins": ["null"]}})
    with pytest.raises(ConfigError, match="limits.pending_total"):
        Settings.load(overrides={"limits": {"pending_total": 0}})
