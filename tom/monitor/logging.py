"""Logging set-up: structlog for TOM and stdlib logging from libraries, one output.

JSON lines in production (UTF-8, umlauts as they are), a readable colour console on a
terminal. `call_id` comes from structlog contextvars: a call binds it once
(`structlog.contextvars.bind_contextvars(call_id=...)`) and every line from its tasks carries it.
With `redact=True` caller numbers and spoken text never reach a log file.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from typing import IO, Any

import structlog
from structlog.typing import EventDict, Processor

from tom.monitor.events import Event, Transcript

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}
# Keys whose value is what someone said or wrote.
TEXT_KEYS = frozenset({"text", "message", "heard", "transcript", "reply", "prompt", "content",
                       "utterance"})
# Keys whose value identifies a caller.
NUMBER_KEYS = frozenset({"caller", "caller_id", "callee", "from", "to", "number", "phone"})
# Keys never touched: they hold ids and times, not personal data.
KEEP_KEYS = frozenset({"timestamp", "call_id", "level", "logger", "ts_ns", "wall"})
# A phone-number-like run: optional +, then digits with spaces, dashes, slashes or brackets.
_PHONE_RE = re.compile(r"(?<![\w.])\+?\(?\d[\d\s/()\-]{4,}\d(?![\w.])")
_MIN_PHONE_DIGITS = 7
_HANDLER_MARK = "_tom_handler"


def mask_number(value: str) -> str:
    """`+49 170 1234567` -> `***67`: enough to tell calls apart, not to call back."""
    digits = re.sub(r"\D", "", value)
    return "***" + digits[-2:] if digits else value


def mask_numbers_in(text: str) -> str:
    """Mask every phone-number-like run (7+ digits) inside free text."""
    def repl(match: re.Match[str]) -> str:
        found = match.group(0)
        if sum(c.isdigit() for c in found) < _MIN_PHONE_DIGITS:
            return found
        return mask_number(found)
    return _PHONE_RE.sub(repl, text)


def redact_value(key: str, value: Any) -> Any:
    """The value for `key` with personal data masked; containers are walked."""
    if key in KEEP_KEYS:
        return value
    if key in TEXT_KEYS and isinstance(value, str):
        return f"[redacted {len(value)} chars]"
    if key in NUMBER_KEYS and isinstance(value, (str, int)) and not isinstance(value, bool):
        return mask_number(str(value))
    if isinstance(value, str):
        return mask_numbers_in(value)
    if isinstance(value, Mapping):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(key, v) for v in value]
    return value


def redact_processor(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor applying `redact_value` to every key."""
    for key, value in list(event_dict.items()):
        event_dict[key] = redact_value(key, value)
    return event_dict


def _json_dumps(obj: Any, **kw: Any) -> str:
    kw["ensure_ascii"] = False
    kw.setdefault("default", str)
    return json.dumps(obj, **kw)


def _wants_console(format: str, stream: IO[str]) -> bool:
    if format == "console":
        return True
    if format == "json":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def configure_logging(format: str = "auto", level: str = "info", redact: bool = False, *,
                      stream: IO[str] | None = None) -> None:
    """Route structlog and stdlib logging to `stream` (default stderr) in one format.

    format: "json" lines, "console" (colour when a terminal) or "auto" (console on a TTY).
    Safe to call again: it replaces only the handler it installed before.
    """
    if format not in ("auto", "json", "console"):
        raise ValueError(f"log format {format!r} is not one of auto, json, console")
    if level.lower() not in LEVELS:
        raise ValueError(f"log level {level!r} is not one of {', '.join(LEVELS)}")
    out = stream if stream is not None else sys.stderr
    console = _wants_console(format, out)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    if redact:
        shared.append(redact_processor)
    renderer: Processor
    if console:
        colors = bool(getattr(out, "isatty", None) and out.isatty())
        renderer = structlog.dev.ConsoleRenderer(
            colors=colors,
            exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=not redact)
            if colors else structlog.dev.plain_traceback)
    else:
        renderer = structlog.processors.JSONRenderer(serializer=_json_dumps)
    final: list[Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if not console:
        final.append(structlog.processors.format_exc_info)
    final.append(renderer)

    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,  # so a later configure_logging() takes effect
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared, processors=final))
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(LEVELS[level.lower()])


_event_log = structlog.get_logger("tom.events")
# Keys structlog uses for itself; an event field of that name would clash.
_RESERVED = frozenset({"event", "call_id", "level", "logger"})


def log_event(event: Event) -> None:
    """Bus listener writing each event as one log line (`bus.listen(log_event)`).

    Transcripts go at debug so that production logs at info carry timings, not speech.
    """
    method = _event_log.debug if isinstance(event, Transcript) else _event_log.info
    wire = event.to_dict()
    fields: dict[str, Any] = {k: v for k, v in wire["data"].items() if k not in _RESERVED}
    method(wire["type"], call_id=event.call_id or None, **fields)
