"""Security e2e: the real TomServer with credentials, signed Twilio webhooks and rate limits.

One server for the module (models load once). Each test that opens websockets does so from
its own loopback address (127.0.0.x), so the per-source rate limit of one test never
touches another.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from tomtest import e2e_settings, running_server

from tom.bench.caller import place_call
from tom.config import ConfigError
from tom.security.auth import COOKIE
from tom.security.passwords import hash_password
from tom.server import TomServer
from tom.telephony import twilio_signature as tw

pytestmark = pytest.mark.e2e

TOKEN = "e2e-operator-token-0123456789abcdef"
PASSWORD = "a long operator password"
TWILIO_AUTH = "twilio-auth-token-for-tests"
STREAM_TOKEN = "stream-token-9f8e7d6c5b4a"
LIMIT = 4  # new call connections per source per minute in this module
CALLER = "+493055501234"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
async def secure(tmp_path_factory) -> AsyncIterator[TomServer]:
    settings = e2e_settings(
        tmp_path_factory.mktemp("secure"),
        server={"rate_limit_per_min": LIMIT, "max_calls": 4},
        audiosocket={"enabled": False},
        auth={"token": TOKEN, "operator_password_hash": hash_password(PASSWORD,
                                                                      iterations=2000)},
        twilio={"auth_token": TWILIO_AUTH, "stream_token": STREAM_TOKEN})
    async with running_server(settings) as server:
        yield server


@contextlib.asynccontextmanager
async def client_from(address: str) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client whose connections come from `address` (any 127.0.0.x works on Linux)."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector,
                                     cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield http


def ws_url(server: TomServer, path: str) -> str:
    return server.url.replace("http", "ws", 1) + path


async def ws_status(http: aiohttp.ClientSession, url: str, **params: str) -> int:
    """101 when the websocket opened (then closed at once), else the refusing HTTP status."""
    try:
        async with http.ws_connect(url, params=params or None, heartbeat=None):
            return 101
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status


# --- start-up ----------------------------------------------------------------------------------


async def test_public_host_without_credentials_refuses_to_start(tmp_path) -> None:
    settings = e2e_settings(tmp_path, server={"host": "0.0.0.0"}, audiosocket={"enabled": False})
    server = TomServer(settings)
    try:
        with pytest.raises(ConfigError) as info:
            await server.start()
        assert "TOM_AUTH_TOKEN" in str(info.value) and "tom hash-password" in str(info.value)
        assert server.runner is None and not server.url  # never listened
    finally:
        await server.stop()


# --- operator access ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/calls", "/api/messages", "/api/stats", "/api/events",
                                  "/api/calls/CA123"])
async def test_api_refuses_without_credentials(secure: TomServer, path: str) -> None:
    async with aiohttp.ClientSession() as http:
        resp = await http.get(secure.url + path)
        assert resp.status == 401
        assert "Bearer" in (await resp.json())["error"]
        wrong = await http.get(secure.url + path, headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401


async def test_dashboard_root_shows_login_page(secure: TomServer) -> None:
    async with aiohttp.ClientSession() as http:
        resp = await http.get(secure.url + "/", headers={"Accept": "text/html"})
        page = await resp.text()
    assert resp.status == 401 and "<form" in page and "/api/login" in page
    assert "TOM is running" not in page and "<script type=\"module\"" not in page


async def test_api_with_bearer_and_query_token(secure: TomServer) -> None:
    async with aiohttp.ClientSession() as http:
        resp = await http.get(secure.url + "/api/calls", headers=BEARER)
        assert resp.status == 200 and set(await resp.json()) == {"active", "recent"}
        resp = await http.get(secure.url + "/api/calls", params={"token": TOKEN})
        assert resp.status == 200
        resp = await http.get(secure.url + "/api/events", params={"token": TOKEN})
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        first = await asyncio.wait_for(resp.content.readline(), 5)
        assert first.decode().strip() == "event: snapshot"
        resp.close()


async def test_login_cookie_then_logout(secure: TomServer) -> None:
    async with client_from("127.0.0.3") as http:
        bad = await http.post(secure.url + "/api/login", json={"password": "guess"})
        assert bad.status == 401
        resp = await http.post(secure.url + "/api/login", json={"password": PASSWORD})
        assert resp.status == 200
        cookie = resp.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert (await http.get(secure.url + "/api/calls")).status == 200
        assert (await http.get(secure.url + "/")).status == 200
        events = await http.get(secure.url + "/api/events")  # EventSource sends the cookie
        assert events.status == 200
        events.close()
        assert (await http.post(secure.url + "/api/logout")).status == 200
        assert COOKIE not in {c.key for c in http.cookie_jar}
        assert (await http.get(secure.url + "/api/calls")).status == 401


async def test_browser_call_socket_needs_token(secure: TomServer) -> None:
    url = ws_url(secure, "/ws/browser")
    async with client_from("127.0.0.4") as http:
        assert await ws_status(http, url) == 401
        assert await ws_status(http, url, token="wrong") == 401
        async with http.ws_connect(url, params={"token": TOKEN}, heartbeat=None) as ws:
            started = await asyncio.wait_for(ws.receive_json(), 10)
            assert started["type"] == "started"
            await ws.send_str(json.dumps({"type": "hangup"}))


# --- probes and metrics ------------------------------------------------------------------------


async def test_probes_and_metrics_are_open_and_carry_nothing_personal(secure, turn) -> None:
    async with client_from("127.0.0.2") as http:
        result = await place_call(secure.url, [
            turn("What are your opening hours on Saturday?"),
            turn("Thank you, goodbye.", may_end_call=True)],
            token=STREAM_TOKEN, caller=CALLER, session=http)
    assert result.ok, result.failure
    async with aiohttp.ClientSession() as http:
        detail = await (await http.get(f"{secure.url}/api/calls/{result.call_sid}",
                                       headers=BEARER)).json()
        # The personal data exists (so the checks below can fail) ...
        assert detail["caller"] == CALLER
        said = [t["text"] for t in detail["transcript"] if t["text"].strip()]
        assert any("saturday" in t.lower() for t in said), said
        # ... and none of it is in what anyone can fetch without credentials.
        for path in ("/healthz", "/readyz", "/metrics"):
            resp = await http.get(secure.url + path)
            body = (await resp.text()).lower()
            assert resp.status == 200, path
            assert CALLER[1:] not in body and "55501234" not in body, path
            assert "saturday" not in body and "opening hours" not in body, path
            for text in said:
                assert text.lower() not in body, (path, text)


# --- Twilio ------------------------------------------------------------------------------------


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's documented scheme: URL + each POST name and value sorted by name, HMAC-SHA1."""
    data = url + "".join(name + params[name] for name in sorted(params))
    mac = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


VOICE_FORM = {"CallSid": "CA" + "1" * 32, "AccountSid": "AC" + "2" * 32, "From": CALLER,
              "To": "+4976145893200", "CallStatus": "ringing", "Direction": "inbound"}


async def test_twilio_signed_webhook_accepted_tampered_refused(secure: TomServer) -> None:
    voice, after = secure.url + "/twilio/voice", secure.url + "/twilio/after-stream"
    signature = twilio_signature(TWILIO_AUTH, voice, VOICE_FORM)
    assert signature == tw.compute_signature(TWILIO_AUTH, voice, VOICE_FORM)
    async with aiohttp.ClientSession() as http:
        ok = await http.post(voice, data=VOICE_FORM, headers={"X-Twilio-Signature": signature})
        twiml = await ok.text()
        assert ok.status == 200 and "<Connect" in twiml and STREAM_TOKEN in twiml

        tampered = {**VOICE_FORM, "From": "+15550199999"}
        for form, headers in [
            (tampered, {"X-Twilio-Signature": signature}),  # body changed after signing
            (VOICE_FORM, {}),  # no signature
            (VOICE_FORM, {"X-Twilio-Signature": twilio_signature("other-token", voice,
                                                                 VOICE_FORM)}),
            (VOICE_FORM, {"X-Twilio-Signature": twilio_signature(TWILIO_AUTH, after,
                                                                 VOICE_FORM)}),  # other URL
        ]:
            resp = await http.post(voice, data=form, headers=headers)
            assert resp.status == 403, (form, headers)
            assert "Connect" not in await resp.text()

        form = {"CallSid": "CA" + "3" * 32}
        resp = await http.post(after, data=form, headers={
            "X-Twilio-Signature": twilio_signature(TWILIO_AUTH, after, form)})
        assert resp.status == 200 and "<Hangup" in await resp.text()


async def test_stream_token_checked(secure: TomServer) -> None:
    url = ws_url(secure, "/twilio/stream")
    async with client_from("127.0.0.5") as http:
        assert await ws_status(http, url) == 403
        assert await ws_status(http, url, token=STREAM_TOKEN[:-1]) == 403
        assert await ws_status(http, url, token=STREAM_TOKEN) == 101


# --- rate limit --------------------------------------------------------------------------------


async def test_connect_burst_refused_while_other_calls_continue(secure, turn) -> None:
    url = ws_url(secure, "/twilio/stream")

    async def ongoing_call():
        async with client_from("127.0.0.6") as http:
            return await place_call(secure.url, [
                turn("What are your opening hours on Saturday?"),
                turn("Thanks, bye.", may_end_call=True)],
                token=STREAM_TOKEN, caller="+15550100", session=http)

    call = asyncio.create_task(ongoing_call())
    await asyncio.sleep(1.5)  # the call is up and TOM is greeting
    async with client_from("127.0.0.7") as flood:
        codes = [await ws_status(flood, url, token=STREAM_TOKEN) for _ in range(LIMIT + 4)]
    assert codes == [101] * LIMIT + [429] * 4
    async with client_from("127.0.0.8") as other:  # another source is not affected
        assert await ws_status(other, url, token=STREAM_TOKEN) == 101
    result = await call
    assert result.ok, result.failure
    assert result.turns[0].answered
    record = secure.assistant.registry.get(result.call_sid)
    assert record is not None and record.outcome == "completed"


async def test_rate_limit_comes_before_token_guessing(secure: TomServer) -> None:
    url = ws_url(secure, "/ws/browser")
    async with client_from("127.0.0.9") as http:
        codes = [await ws_status(http, url, token=f"guess-{i}") for i in range(LIMIT + 2)]
    assert codes == [401] * LIMIT + [429] * 2
