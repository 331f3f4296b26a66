"""What a setting may be, and the checks that turn a raw TOML/env value into it.

`config.py` declares the settings; this module knows how a value is validated: types, ranges,
choices, URLs and IP networks, each failure a `ConfigError` naming key, value and what to do.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from dataclasses import field
from typing import Any
from urllib.parse import urlsplit


class ConfigError(ValueError):
    """A setting is wrong; the message says which, what it was and what is allowed."""


# URL settings: the schemes each accepts (an empty value always means "off" / "not used").
HTTP = ("http", "https")
REDIS = ("redis", "rediss", "unix")


def option(default: Any, *, choices: tuple[str, ...] | None = None, min: float | None = None,
         max: float | None = None, url: tuple[str, ...] | None = None, networks: bool = False,
         required: bool = False) -> Any:
    """A setting's default plus what is allowed: choices, a range, URL schemes, IP networks,
    or `required` (an empty string is refused)."""
    meta = {"choices": choices, "min": min, "max": max, "url": url, "networks": networks,
            "required": required}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def coerce(key: str, value: Any, kind: type, meta: Mapping[str, Any]) -> Any:
    try:
        if kind is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                    raise ValueError
                value = value.lower() in ("true", "1", "yes", "on")
            elif not isinstance(value, bool):
                raise ValueError
        elif kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            value = int(value)
        elif kind is float:
            if isinstance(value, bool):
                raise ValueError
            value = float(value)
            if not math.isfinite(value):  # nan compares false with every bound
                raise ConfigError(f"{key} = {value!r} is not allowed; use a finite number"
                                  f"{_range(meta)}")
        elif kind is list:
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, list):
                raise ValueError
        elif kind is str:
            if not isinstance(value, str):
                raise ValueError
        elif kind is dict:  # a [section.key] table of strings; env: "de=pico,en=piper"
            if isinstance(value, str):
                value = dict(item.split("=", 1) for item in value.split(",") if item.strip())
            if not isinstance(value, Mapping) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
                raise ValueError
            value = {k.strip(): v.strip() for k, v in value.items()}
    except ConfigError:
        raise
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{key} = {value!r} is not a valid {kind.__name__}") from None
    choices, lo, hi = meta.get("choices"), meta.get("min"), meta.get("max")
    if choices and value not in choices:
        raise ConfigError(f"{key} = {value!r} is not allowed; choose one of {', '.join(choices)}")
    if lo is not None and value < lo or hi is not None and value > hi:
        raise ConfigError(f"{key} = {value!r} is out of range; allowed {lo} to {hi}")
    if meta.get("required") and not value.strip():
        raise ConfigError(f"{key} = {value!r} is empty; set it to a directory path, e.g. "
                          f"{key} = \"data/runtime\"")
    if meta.get("url") and value:
        for item in value if isinstance(value, list) else [value]:
            _check_url(key, item if isinstance(item, str) else repr(item), meta["url"])
    if meta.get("networks"):
        for item in value:
            _check_network(key, item)
    return value


def _range(meta: Mapping[str, Any]) -> str:
    lo, hi = meta.get("min"), meta.get("max")
    return f" from {lo} to {hi}" if lo is not None and hi is not None else ""


def _check_url(key: str, value: str, schemes: tuple[str, ...]) -> None:
    """A URL TOM will connect to: one of `schemes`, a host (or a socket path for unix://)."""
    example = {"redis": "redis://127.0.0.1:6379/0", "http": "http://127.0.0.1:8000/path"}
    hint = (f"use a URL starting with {' or '.join(s + '://' for s in schemes)}, e.g. "
            f"{example[schemes[0]]!r}, or leave it empty")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        raise ConfigError(f"{key} = {value!r} is not a valid URL; {hint}") from None
    if parts.scheme not in schemes or any(c.isspace() for c in value):
        raise ConfigError(f"{key} = {value!r} is not a valid URL; {hint}")
    if not (parts.hostname or (parts.scheme == "unix" and parts.path)):
        raise ConfigError(f"{key} = {value!r} has no host; {hint}")


def _check_network(key: str, item: Any) -> None:
    try:
        if not isinstance(item, str):
            raise ValueError
        ipaddress.ip_network(item, strict=False)
    except ValueError:
        raise ConfigError(
            f"{key} contains {item!r}, which is not an IP address or network; list addresses "
            "like \"10.0.0.5\" or networks like \"10.0.0.0/24\"") from None
