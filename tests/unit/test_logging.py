"""Logging: JSON lines with umlauts intact, call_id from contextvars, redaction, console mode."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from tom.monitor.events import CallError, Role, Transcript, TurnTimed
from tom.monitor.logging import configure_logging, log_event, mask_number, mask_numbers_in


class TtyStream(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.contextvars.clear_contextvars()
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_lines_keep_umlauts_byte_exact() -> None:
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    structlog.get_logger("tom.test").info("Grüße aus Köln", street="Straße", word="ÄÖÜäöüß")
    raw = out.getvalue().encode("utf-8")
    assert "Grüße aus Köln".encode() in raw
    assert "ÄÖÜäöüß".encode() in raw
    assert b"\\u00" not in raw
    (entry,) = lines(out)
    assert entry["event"] == "Grüße aus Köln"
    assert entry["street"] == "Straße"
    assert entry["level"] == "info"
    assert entry["logger"] == "tom.test"
    assert entry["timestamp"].endswith("Z")


def test_auto_is_json_when_not_a_terminal() -> None:
    out = io.StringIO()
    configure_logging("auto", "info", stream=out)
    structlog.get_logger().info("hallo")
    assert lines(out)[0]["event"] == "hallo"


def test_stdlib_logging_goes_through_the_same_pipeline() -> None:
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    logging.getLogger("some.library").warning("Übertragung %s", "fehlgeschlagen")
    (entry,) = lines(out)
    assert entry["event"] == "Übertragung fehlgeschlagen"
    assert entry["level"] == "warning"
    assert entry["logger"] == "some.library"


def test_level_filters_debug() -> None:
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    log = structlog.get_logger("tom.test")
    log.debug("hidden")
    logging.getLogger("lib").debug("hidden too")
    log.info("shown")
    assert [e["event"] for e in lines(out)] == ["shown"]


def test_call_id_from_contextvars() -> None:
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    log = structlog.get_logger("tom.call")
    with structlog.contextvars.bound_contextvars(call_id="call-42"):
        log.info("in call")
        logging.getLogger("lib").info("library line in call")
    log.info("outside")
    entries = lines(out)
    assert entries[0]["call_id"] == "call-42"
    assert entries[1]["call_id"] == "call-42"
    assert "call_id" not in entries[2]


def test_reconfigure_replaces_own_handler_only() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("json", "info", stream=first)
    configure_logging("json", "info", stream=second)
    structlog.get_logger().info("once")
    assert first.getvalue() == ""
    assert len(lines(second)) == 1


def test_redaction_masks_numbers_and_text() -> None:
    out = io.StringIO()
    configure_logging("json", "info", redact=True, stream=out)
    log = structlog.get_logger("tom.call")
    log.info("call from +49 (170) 123-4567 accepted", caller="+491701234567",
             text="Ich heiße Jürgen", turn=3, duration_s=12.5,
             data={"message": "Rückruf bitte", "to": "030 12345678"})
    raw = out.getvalue()
    (entry,) = lines(out)
    assert entry["caller"] == "***67"
    assert entry["text"] == "[redacted 16 chars]"
    assert entry["data"] == {"message": "[redacted 13 chars]", "to": "***78"}
    assert entry["event"] == "call from ***67 accepted"
    assert entry["turn"] == 3 and entry["duration_s"] == 12.5
    for secret in ("1234567", "Jürgen", "Rückruf", "12345678"):
        assert secret not in raw


def test_without_redaction_text_stays() -> None:
    out = io.StringIO()
    configure_logging("json", "info", redact=False, stream=out)
    structlog.get_logger().info("t", caller="+491701234567", text="Ich heiße Jürgen")
    (entry,) = lines(out)
    assert entry["caller"] == "+491701234567" and entry["text"] == "Ich heiße Jürgen"


def test_mask_helpers() -> None:
    assert mask_number("+49 170 1234567") == "***67"
    assert mask_number("anonymous") == "anonymous"
    assert mask_numbers_in("turn 3 took 250 ms") == "turn 3 took 250 ms"
    assert mask_numbers_in("ruf 0301234567 an") == "ruf ***67 an"
    assert mask_numbers_in("version 1.2.3") == "version 1.2.3"


def test_console_on_terminal_has_colours() -> None:
    out = TtyStream()
    configure_logging("auto", "info", stream=out)
    structlog.get_logger().info("Grüezi", who="Bär")
    text = out.getvalue()
    assert "\x1b[" in text
    assert "Grüezi" in text and "Bär" in text


def test_console_without_terminal_is_plain() -> None:
    out = io.StringIO()
    configure_logging("console", "info", stream=out)
    structlog.get_logger().info("Grüezi", who="Bär")
    text = out.getvalue()
    assert "\x1b[" not in text
    assert "Grüezi" in text and "who=Bär" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="format"):
        configure_logging("xml", "info")
    with pytest.raises(ValueError, match="level"):
        configure_logging("json", "loud")


def test_log_event_listener() -> None:
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    log_event(TurnTimed(call_id="c7", turn=2, intent="hours", timings_ms={"e2e": 800}))
    log_event(Transcript(call_id="c7", role=Role.CALLER, text="Grüß Gott", turn=2))  # debug
    log_event(CallError(call_id="", kind="bad_request", message="Ungültig"))
    turn, error = lines(out)
    assert turn["event"] == "turn" and turn["call_id"] == "c7" and turn["level"] == "info"
    assert turn["timings_ms"] == {"e2e": 800} and turn["turn"] == 2 and turn["intent"] == "hours"
    assert error["event"] == "error" and error["kind"] == "bad_request"
    assert error["message"] == "Ungültig" and error["call_id"] is None


def test_log_event_writes_transcripts_at_debug() -> None:
    out = io.StringIO()
    configure_logging("json", "debug", stream=out)
    log_event(Transcript(call_id="c7", role=Role.ASSISTANT, text="Grüß Gott", turn=0))
    (entry,) = lines(out)
    assert entry["level"] == "debug" and entry["event"] == "transcript"
    assert entry["role"] == "assistant" and entry["text"] == "Grüß Gott"
