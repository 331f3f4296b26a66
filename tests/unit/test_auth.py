"""Operator access: password hashes, start-up checks and the middleware on a small app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tom.config import ConfigError, Settings
from tom.security.auth import COOKIE, auth_middleware, check_startup
from tom.security.passwords import hash_password, parse_password_hash, verify_password
from tom.security.startup import auth_required, is_loopback

TOKEN = "tok-" + "x" * 28
PASSWORD = "correct horse battery"
FAST = 1000  # PBKDF2 iterations for tests; production uses the 600 000 default


def settings(host: str = "127.0.0.1", token: str = "", password: str = "",
             **auth: object) -> Settings:
    s = Settings()
    s.server.host = host
    s.auth.token = token
    s.auth.operator_password_hash = hash_password(password, iterations=FAST) if password else ""
    for key, value in auth.items():
        setattr(s.auth, key, value)
    return s


# --- passwords ---------------------------------------------------------------------------------


def test_hash_verifies_only_the_right_password() -> None:
    encoded = hash_password(PASSWORD, iterations=FAST)
    assert verify_password(PASSWORD, encoded)
    assert not verify_password(PASSWORD + " ", encoded)
    assert not verify_password("", encoded)


def test_hash_format_and_fresh_salt() -> None:
    a, b = hash_password("pässwörd-ü", iterations=FAST), hash_password("pässwörd-ü", iterations=FAST)
    assert a != b  # random salt
    algorithm, iterations, _salt, _digest = a.split("$")
    assert (algorithm, iterations) == ("pbkdf2_sha256", str(FAST))
    assert len(parse_password_hash(a).digest) == 32
    assert verify_password("pässwörd-ü", a) and verify_password("pässwörd-ü", b)


def test_default_work_factor_is_strong() -> None:
    assert parse_password_hash(hash_password("x" * 12)).iterations >= 600_000


@pytest.mark.parametrize("bad", ["", "plain", "md5$1$c2FsdA==$aGFzaA==",
                                 "pbkdf2_sha256$abc$c2FsdA==$" + "A" * 44,
                                 "pbkdf2_sha256$0$c2FsdA==$" + "A" * 44,
                                 "pbkdf2_sha256$1000$!!!$" + "A" * 44,
                                 "pbkdf2_sha256$1000$c2FsdA==$c2hvcnQ="])
def test_malformed_hash_never_verifies(bad: str) -> None:
    assert not verify_password(PASSWORD, bad)
    with pytest.raises(ValueError):
        parse_password_hash(bad)


def test_empty_password_cannot_be_hashed() -> None:
    with pytest.raises(ValueError):
        hash_password("")


# --- start-up checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("LOCALHOST", True), ("::ffff:127.0.0.1", True),
    ("0.0.0.0", False), ("", False), ("::", False), ("192.168.1.10", False),
    ("tom.example.org", False), ("128.0.0.1", False)])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_public_host_without_credentials_refuses_to_start() -> None:
    with pytest.raises(ConfigError) as info:
        check_startup(settings("0.0.0.0"))
    assert "TOM_AUTH_TOKEN" in str(info.value) and "tom hash-password" in str(info.value)


@pytest.mark.parametrize("creds", [{"token": TOKEN}, {"password": PASSWORD}])
def test_public_host_with_credentials_starts(creds: dict) -> None:
    s = settings("0.0.0.0", **creds)
    s.twilio.auth_token, s.twilio.stream_token = "twilio-secret", "stream-secret"
    s.auth.operator_password_hash = s.auth.operator_password_hash and hash_password(PASSWORD)
    assert check_startup(s) == []


def test_loopback_without_credentials_is_open() -> None:
    s = settings()
    assert check_startup(s) == []
    assert not auth_required(s)
    assert auth_required(settings(token=TOKEN))  # configured credentials always apply


def test_short_token_and_broken_hash_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="at least 16"):
        check_startup(settings(token="short"))
    s = settings()
    s.auth.operator_password_hash = "not-a-hash"
    with pytest.raises(ConfigError, match="hash-password"):
        check_startup(s)


def test_public_host_warns_about_unsigned_twilio_and_weak_hash() -> None:
    warnings = check_startup(settings("0.0.0.0", token=TOKEN, password=PASSWORD))
    text = " ".join(warnings)
    assert "twilio.auth_token" in text and "twilio.stream_token" in text
    assert "iterations" in text  # FAST is below the recommended work factor


def test_settings_from_env() -> None:
    s = Settings.load(env={"TOM_AUTH_TOKEN": TOKEN, "TOM_SERVER_RATE_LIMIT_PER_MIN": "7",
                           "TOM_AUTH_SESSION_HOURS": "2"})
    assert (s.auth.token, s.server.rate_limit_per_min, s.auth.session_hours) == (TOKEN, 7, 2.0)


# --- middleware --------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def ok(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def small_app(s: Settings, clock: Clock) -> web.Application:
    app = web.Application(middlewares=[auth_middleware(s, clock=clock)])
    for path in ("/", "/api/calls", "/healthz", "/readyz", "/metrics", "/ws/browser",
                 "/api/events"):
        app.router.add_get(path, ok)
    app.router.add_post("/twilio/voice", ok)
    app.router.add_get("/twilio/stream", ok)
    return app


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def _client(s: Settings, clock: Clock) -> AsyncIterator[TestClient]:
    client = TestClient(TestServer(small_app(s, clock)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def guarded(clock: Clock) -> AsyncIterator[TestClient]:
    async for client in _client(settings(token=TOKEN, password=PASSWORD,
                                         login_attempts_per_min=5), clock):
        yield client


@pytest.fixture
async def open_app(clock: Clock) -> AsyncIterator[TestClient]:
    async for client in _client(settings(), clock):
        yield client


async def test_loopback_without_credentials_is_not_guarded(open_app: TestClient) -> None:
    for path in ("/", "/api/calls", "/ws/browser"):
        assert (await open_app.get(path)).status == 200


@pytest.mark.parametrize("path", ["/api/calls", "/api/events", "/ws/browser", "/nope"])
async def test_guarded_routes_need_credentials(guarded: TestClient, path: str) -> None:
    r = await guarded.get(path)
    assert r.status == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Bearer" in (await r.json())["error"]


async def test_bearer_and_query_token(guarded: TestClient) -> None:
    assert (await guarded.get("/api/calls", headers={"Authorization": f"Bearer {TOKEN}"})).status == 200
    assert (await guarded.get("/api/calls", headers={"Authorization": f"bearer {TOKEN}"})).status == 200
    assert (await guarded.get("/api/events", params={"token": TOKEN})).status == 200
    assert (await guarded.get("/api/calls", headers={"Authorization": "Bearer wrong"})).status == 401
    assert (await guarded.get("/api/calls", headers={"Authorization": f"Basic {TOKEN}"})).status == 401
    assert (await guarded.get("/api/calls", params={"token": TOKEN[:-1]})).status == 401
    assert (await guarded.get("/api/calls", params={"token": ""})).status == 401


async def test_open_routes_stay_open(guarded: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/twilio/stream"):
        assert (await guarded.get(path)).status == 200, path
    assert (await guarded.post("/twilio/voice")).status == 200


async def raw_get(client: TestClient, target: str) -> int:
    """Status of a GET sent byte for byte, so no client normalises the path first."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    writer.close()
    await writer.wait_closed()
    return status


async def test_path_tricks_do_not_reach_guarded_routes(guarded: TestClient) -> None:
    assert await raw_get(guarded, "/healthz") == 200  # the helper itself works
    for path in ("/twilio/../api/calls", "/healthz/../api/calls", "//api/calls",
                 "/%61pi/calls", "/twilio/%2e%2e/api/calls", "/twilio/..%2fapi/calls",
                 "/metrics/", "/HEALTHZ/../api/calls"):
        assert await raw_get(guarded, path) in (401, 404), path


async def test_root_shows_login_page(guarded: TestClient) -> None:
    r = await guarded.get("/")
    assert r.status == 401
    page = await r.text()
    assert "<form" in page and "/api/login" in page and '"password"' in page
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Cache-Control"] == "no-store"


async def test_login_cookie_logout(guarded: TestClient, clock: Clock) -> None:
    r = await guarded.post("/api/login", json={"password": PASSWORD})
    assert r.status == 200
    cookie = r.headers["Set-Cookie"]
    assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert (await guarded.get("/api/calls")).status == 200
    assert (await guarded.get("/")).status == 200
    assert (await (await guarded.get("/api/session")).json())["authenticated"] is True
    assert (await guarded.post("/api/logout")).status == 200
    assert (await guarded.get("/api/calls")).status == 401


async def test_stolen_cookie_is_useless_after_logout(guarded: TestClient) -> None:
    r = await guarded.post("/api/login", json={"token": TOKEN})
    session = r.cookies[COOKIE].value
    await guarded.post("/api/logout")
    guarded.session.cookie_jar.clear()
    r = await guarded.get("/api/calls", headers={"Cookie": f"{COOKIE}={session}"})
    assert r.status == 401


async def test_session_expires(guarded: TestClient, clock: Clock) -> None:
    assert (await guarded.post("/api/login", json={"password": PASSWORD})).status == 200
    clock.now += 12 * 3600 - 1
    assert (await guarded.get("/api/calls")).status == 200
    clock.now += 2
    assert (await guarded.get("/api/calls")).status == 401


async def test_wrong_login_and_bad_body(guarded: TestClient) -> None:
    r = await guarded.post("/api/login", json={"password": "wrong"})
    assert r.status == 401 and COOKIE not in r.cookies
    assert (await guarded.post("/api/login", data=b"{not json")).status == 400
    assert (await guarded.post("/api/login", json=["password"])).status == 400
    assert (await guarded.get("/api/login")).status == 405
    assert (await guarded.get("/api/calls")).status == 401


async def test_login_attempts_are_rate_limited(guarded: TestClient, clock: Clock) -> None:
    codes = [(await guarded.post("/api/login", json={"password": "guess"})).status
             for _ in range(6)]
    assert codes == [401] * 5 + [429]
    r = await guarded.post("/api/login", json={"password": PASSWORD})
    assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
    clock.now += 60
    assert (await guarded.post("/api/login", json={"password": PASSWORD})).status == 200


async def test_login_without_configured_credentials(open_app: TestClient) -> None:
    r = await open_app.post("/api/login", json={"password": "x"})
    assert r.status == 400
    body = await (await open_app.get("/api/session")).json()
    assert body == {"auth_required": False, "authenticated": False, "login": None}
