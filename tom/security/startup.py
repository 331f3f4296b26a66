"""Start-up checks: TOM refuses to serve a public address without operator credentials, and
finds a broken machine (data dir, database, ports) before the models load.

A dashboard on a public address shows callers' numbers and what they said; leaving it open
must be a loud error at start, not something found out later. A taken port or a corrupt
database must be one readable line in seconds, not a traceback after a minute of model loading.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import sqlite3
import tempfile
from pathlib import Path

import structlog

from tom.config import ConfigError, Settings
from tom.security.passwords import MIN_RECOMMENDED_ITERATIONS, parse_password_hash

log = structlog.get_logger(__name__)
DB_NAME = "tom.db"  # tom.conversation.messages.DB_NAME; not imported to keep this module light


class StartupError(ConfigError):
    """The machine cannot run TOM as configured (data dir, database, a port); says what to do."""

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


def preflight(settings: Settings, *, ports: bool = True) -> None:
    """Raise StartupError unless the data dir, its database and (with `ports`) the listening
    ports are usable. Cheap: called before the models load, by `tom serve` and TomServer.start."""
    check_data_dir(settings)
    if ports:
        check_ports(settings)


def check_data_dir(settings: Settings) -> Path:
    """The data dir exists (created if missing), is a writable directory, and its `tom.db`,
    if there is one, is a readable SQLite database."""
    key = f"data.dir = {settings.data.dir!r}"
    where = "point data.dir (TOM_DATA_DIR) at a writable directory"
    path = Path(settings.data.dir).expanduser()
    if path.exists() and not path.is_dir():
        raise StartupError(f"{key} is a file, not a directory; move the file away or {where}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"{key}: cannot create it ({_reason(exc)}); {where}") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=".tom-write-check-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise StartupError(
            f"{key} is not writable ({_reason(exc)}); give the user running TOM write access "
            f"to it, or {where}") from None
    check_database(path / DB_NAME)
    return path


def check_database(db: Path) -> None:
    """An existing database opens and passes SQLite's quick check; a missing one is created later."""
    if not db.exists():
        return
    problem = ""
    try:
        conn = sqlite3.connect(db, timeout=10)
        try:
            row = conn.execute("PRAGMA quick_check(1)").fetchone()
            problem = "" if row and row[0] == "ok" else str(row[0] if row else "no answer")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        problem = str(exc)
    if problem:
        raise StartupError(
            f"the message database {db} is unreadable or corrupt ({problem}); stop TOM, move "
            f"the file away (TOM starts a new, empty one) or restore it from a backup")


def check_ports(settings: Settings) -> None:
    """The HTTP and AudioSocket ports can be bound now (port 0 means any free port)."""
    s, a = settings.server, settings.audiosocket
    _check_port("HTTP", "server", s.host, s.port)
    if not a.enabled:
        return
    if a.port and a.port == s.port and a.host == s.host:
        raise StartupError(
            f"audiosocket.port = {a.port} is also server.port; choose another audiosocket.port "
            "(TOM_AUDIOSOCKET_PORT)")
    _check_port("AudioSocket", "audiosocket", a.host, a.port)


def _check_port(what: str, section: str, host: str, port: int) -> None:
    if port == 0:
        return
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    todo = (f"stop the program using it or choose another port with {section}.port "
            f"(TOM_{section.upper()}_PORT)")
    if section == "audiosocket":
        todo += " or set audiosocket.enabled = false"
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise StartupError(f"{section}.host = {host!r} cannot be resolved ({exc.strerror}); "
                           "use an IP address such as 127.0.0.1 or 0.0.0.0") from None
    for family, kind, proto, _name, sockaddr in infos:
        try:
            with socket.socket(family, kind, proto) as sock:
                # as asyncio's listeners do: reuse TIME_WAIT ports, one socket per family
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(sockaddr)
        except OSError as exc:
            raise StartupError(f"cannot listen for {what} on {address}: {_reason(exc)}; {todo}") \
                from None


def _reason(exc: OSError) -> str:
    """ "permission denied" rather than "[Errno 13] Permission denied: '/x'"."""
    return os.strerror(exc.errno).lower() if exc.errno else str(exc)
