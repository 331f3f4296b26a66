"""The call flow: TOM's and the caller's states kept apart, one combined state published."""

import pytest

from tom.flow import (
    CALLER_SPEAKING,
    STATES,
    CallerState,
    CallFlow,
    InvalidTransition,
    TomState,
)
from tom.monitor import events as ev


def flow_and_changes(strict: bool = True):
    bus = ev.EventBus()
    seen: list[tuple[str, str]] = []
    bus.listen(lambda e: seen.append((e.source, e.dest)) if isinstance(e, ev.StateChanged)
               else None)
    return CallFlow("c1", bus, strict=strict), seen


def test_flow_reads_like_the_call_spec():
    flow, seen = flow_and_changes()
    flow.greet()
    flow.listen()
    flow.caller_starts()
    flow.caller_stops()
    flow.reply()
    flow.listen()
    flow.caller_starts()
    flow.caller_stops()
    flow.reply()
    flow.caller_starts(cuts_off_tom=True)  # barge-in
    flow.finish()
    flow.close()
    assert flow.state == "ended"
    assert seen[:5] == [("connecting", "greeting"), ("greeting", "listening"),
                        ("listening", "caller_speaking"), ("caller_speaking", "thinking"),
                        ("thinking", "speaking")]
    assert ("speaking", "caller_speaking") in seen  # barge-in
    assert ("caller_speaking", "ending") in seen
    assert {state for change in seen for state in change} <= set(STATES)


def test_the_caller_speaking_over_tom_keeps_that_tom_was_talking():
    flow, seen = flow_and_changes()
    flow.listen()
    flow.reply()  # e.g. a keypad answer: TOM speaks
    flow.caller_starts()  # the caller talks over it without cutting it off
    assert (flow.tom, flow.caller, flow.state) == (TomState.SPEAKING, CallerState.SPEAKING,
                                                   CALLER_SPEAKING)
    flow.listen()  # TOM's reply ends while the caller still speaks
    assert flow.state == CALLER_SPEAKING and flow.tom is TomState.LISTENING
    flow.caller_stops()
    assert flow.state == "thinking"
    assert seen[-2:] == [("speaking", "caller_speaking"), ("caller_speaking", "thinking")]


def test_no_event_when_the_combined_state_does_not_change():
    flow, seen = flow_and_changes()
    flow.listen()
    flow.listen()
    flow.reply()
    flow.reply()  # speaking on: a goodbye after a reply was cut short
    assert seen == [("connecting", "listening"), ("listening", "speaking")]


@pytest.mark.parametrize("steps", [
    ["caller_stops"],  # the caller never started
    ["greet", "greet"],
    ["listen", "caller_starts", "caller_starts"],
    ["listen", "think_twice"],
    ["finish", "reply"],  # nothing is said once the call is ending
    ["listen", "transfer", "listen"],
])
def test_an_invalid_trigger_raises_in_strict_mode(steps):
    flow, _ = flow_and_changes(strict=True)
    with pytest.raises(InvalidTransition):
        for step in steps:
            if step == "think_twice":
                flow.caller_starts()
                flow.caller_stops()
                flow.caller_starts()
                flow.caller_stops()  # TOM already thinks: a second end of turn is a bug
            else:
                getattr(flow, step)()


@pytest.fixture
def default_structlog():
    """Structlog as shipped: another test may have configured a level filter for its own run."""
    import structlog

    saved = structlog.get_config()
    structlog.reset_defaults()
    yield
    structlog.configure(**saved)


def test_an_invalid_trigger_is_logged_and_ignored_in_production(default_structlog):
    import structlog

    flow, seen = flow_and_changes(strict=False)
    with structlog.testing.capture_logs() as logs:
        flow.caller_stops()
    assert flow.state == "connecting" and seen == []
    assert logs and logs[0]["log_level"] == "warning" and logs[0]["trigger"] == "caller_stops"
    assert logs[0]["call_id"] == "c1"
