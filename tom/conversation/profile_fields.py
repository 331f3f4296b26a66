"""Field validators for profile TOML: each failure names the field and what is wrong with it."""

from __future__ import annotations

import re
import string
from typing import Any

WEEKDAY_KEYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
COLLECTABLE = ("name", "number", "text")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()/.-]{3,}[0-9]$")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


class ProfileError(ValueError):
    """The profile is wrong; the message names the field and says what is wrong with it."""


def known(raw: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    """Reject unknown keys: a typo ("anwser") must not silently drop a text."""
    for key in raw:
        if key not in allowed:
            raise ProfileError(f"unknown key {key!r} in {where}; allowed: {', '.join(allowed)}")


def table(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        raise ProfileError(f"[{key}] is missing")
    if not isinstance(value, dict):
        raise ProfileError(f"{key} must be a table ([{key}]), got {type(value).__name__}")
    return value


def text(raw: dict[str, Any], key: str, name: str, *, optional: bool = False) -> str:
    value = raw.get(key)
    if value is None:
        if optional:
            return ""
        raise ProfileError(f"{name} is missing")
    if not isinstance(value, str):
        raise ProfileError(f"{name} must be text, got {value!r}")
    if not value.strip() and not optional:
        raise ProfileError(f"{name} is empty")
    return " ".join(value.split())


def boolean(raw: dict[str, Any], key: str, name: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ProfileError(f"{name} must be true or false, got {value!r}")
    return value


def phone(raw: dict[str, Any], key: str, name: str, *, optional: bool = False) -> str:
    value = text(raw, key, name, optional=optional)
    if value and not _PHONE.match(value):
        raise ProfileError(f"{name} = {value!r} is not a phone number (digits, spaces, + - / ( ))")
    return value


def strings(value: Any, name: str) -> list[str]:
    if not isinstance(value, list):
        raise ProfileError(f"{name} must be a list of texts, got {value!r}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise ProfileError(f"{name}[{i}] is empty or not text")
        out.append(" ".join(item.split()))
    return out


def hours(raw: dict[str, Any]) -> dict[int, list[tuple[int, int]]]:
    for key in raw:
        if key not in WEEKDAY_KEYS:
            raise ProfileError(f"hours.{key} is not a weekday; use {', '.join(WEEKDAY_KEYS)}")
    out: dict[int, list[tuple[int, int]]] = {}
    for day, key in enumerate(WEEKDAY_KEYS):
        value = raw.get(key)
        if not isinstance(value, str):
            raise ProfileError(f"hours.{key} is missing; write \"09:00-18:00\" or \"closed\"")
        out[day] = [] if value.strip().lower() == "closed" else spans(value, f"hours.{key}")
    return out


def spans(value: str, name: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for part in value.split(","):
        m = _RANGE.match(part.strip())
        if not m:
            raise ProfileError(f"{name} = {value!r} is not like \"09:00-18:00\" (several "
                               "ranges separated by commas) or \"closed\"")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59 or start >= end:
            raise ProfileError(f"{name} = {value!r}: {part.strip()!r} is not a valid range")
        if out and start < out[-1][1]:
            raise ProfileError(f"{name} = {value!r}: ranges overlap or are out of order")
        out.append((start, end))
    return out


def template(text: str, allowed: tuple[str, ...], name: str) -> str:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        raise ProfileError(f"{name} has a broken placeholder: {exc} (write {{{{ for a brace)") \
            from None
    for f in fields:
        if f not in allowed:
            hint = ", ".join("{" + a + "}" for a in allowed) or "none"
            raise ProfileError(f"{name} uses unknown placeholder {{{f}}}; allowed: {hint}")
    return text


def collect(message: dict[str, Any]) -> tuple[str, ...]:
    """Which of name, number, text the message flow asks for (always in that order)."""
    value = message.get("collect", list(COLLECTABLE))
    if not isinstance(value, list) or not value or any(v not in COLLECTABLE for v in value):
        raise ProfileError(f"message.collect = {value!r}: choose from {list(COLLECTABLE)}")
    if "name" not in value:
        for key in ("ask_number", "ask_text", "done"):
            if "{name}" in str(message.get(key, "")):
                raise ProfileError(f"message.{key} uses {{name}} but message.collect has no name")
    return tuple(v for v in COLLECTABLE if v in value)


def synonyms(raw: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise ProfileError("synonyms must be a table of word = [\"other\", \"words\"]")
    return {k.lower(): tuple(w.lower() for w in strings(v, f"synonyms.{k}"))
            for k, v in raw.items()}
