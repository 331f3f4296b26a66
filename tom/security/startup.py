"""Start-up checks: TOM refuses to serve a public address without operator credentials.

A dashboard on a public address shows callers' numbers and what they said; leaving it open
must be a loud error at start, not something found out later.
"""

from __future__ import annotations

import ipaddress

import structlog

from tom.config import ConfigError, Settings
from tom.security.passwords import MIN_RECOMMENDED_ITERATIONS, parse_password_hash

log = structlog.get_logger(__name__)

MIN_TOKEN_CHARS = 16
HOW_TO_SET = (
    "set a bearer token (TOM_AUTH_TOKEN=$(python -c 'import secrets; "
    "print(secrets.token_urlsafe(32))') or [auth] token in config/tom.toml) and/or an operator "
    "password (run `tom hash-password` and put its output in [auth] operator_password_hash or "
    "TOM_AUTH_OPERATOR_PASSWORD_HASH='...')"
)


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False  # "" (all interfaces) or a host name: assume it can be reached
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def has_credentials(settings: Settings) -> bool:
    return bool(settings.auth.token or settings.auth.operator_password_hash)


def auth_required(settings: Settings) -> bool:
    """Operator routes need credentials on a public address, or whenever some are configured."""
    return has_credentials(settings) or not is_loopback(settings.server.host)


def check_startup(settings: Settings) -> list[str]:
    """Raise ConfigError for an unsafe or broken set-up; return (and log) softer warnings."""
    auth = settings.auth
    if not is_loopback(settings.server.host) and not has_credentials(settings):
        raise ConfigError(
            f"server.host = {settings.server.host!r} is reachable from other machines, but no "
            f"operator credentials are configured, so anyone could read callers' numbers and "
            f"transcripts. Either {HOW_TO_SET}, or listen on 127.0.0.1 only.")
    if auth.token and len(auth.token) < MIN_TOKEN_CHARS:
        raise ConfigError(
            f"auth.token is {len(auth.token)} characters; use at least {MIN_TOKEN_CHARS} "
            "random ones, e.g. TOM_AUTH_TOKEN=$(python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))')")
    iterations = None
    if auth.operator_password_hash:
        try:
            iterations = parse_password_hash(auth.operator_password_hash).iterations
        except ValueError as exc:
            raise ConfigError(
                f"auth.operator_password_hash is not valid: {exc}; create one with "
                "`tom hash-password`") from None
    warnings = _warnings(settings, iterations)
    for text in warnings:
        log.warning("security warning", detail=text)
    return warnings


def _warnings(settings: Settings, iterations: int | None) -> list[str]:
    out: list[str] = []
    public = not is_loopback(settings.server.host)
    tw = settings.twilio
    if public and not (tw.auth_token and tw.validate_signature):
        out.append("Twilio webhooks are not signature-checked: set twilio.auth_token "
                   "(TOM_TWILIO_AUTH_TOKEN) to your Twilio auth token")
    if public and not tw.stream_token:
        out.append("/twilio/stream accepts any websocket: set twilio.stream_token "
                   "(TOM_TWILIO_STREAM_TOKEN) to a long random string")
    sock = settings.audiosocket
    if sock.enabled and not is_loopback(sock.host) and not sock.allowed_sources:
        out.append(f"AudioSocket listens on {sock.host!r} and accepts any peer: list your "
                   "Asterisk addresses in audiosocket.allowed_sources")
    if public and settings.server.rate_limit_per_min == 0:
        out.append("server.rate_limit_per_min = 0: connection floods are not limited")
    if iterations is not None and iterations < MIN_RECOMMENDED_ITERATIONS:
        out.append(f"auth.operator_password_hash uses {iterations} PBKDF2 iterations; "
                   f"re-create it with `tom hash-password` (>= {MIN_RECOMMENDED_ITERATIONS})")
    return out
