"""No caller can slow down another call: refusals, floods, idle and duplicate connections are
each bounded and end that connection alone, under a named error kind (issue 17).

A real TomServer with two lines and short limits; each test that opens connections uses its own
loopback address, so the per-source budgets of one test never touch another.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
from tomtest import e2e_settings

from tom.bench import twilio_caller as tc
from tom.monitor import events as ev
from tom.server import TomServer
from tom.telephony import audiosocket_wire as aw
from tom.telephony.limits import ConnectionLimits, Guards

pytestmark = pytest.mark.e2e

LIMITS = ConnectionLimits(start_timeout_s=1.0, header_timeout_s=1.0, pending_per_source=2,
                          refusals_per_min=2,
                          browser_origins=("https://allowed.example",))


@pytest.fixture(scope="module")
async def server(tmp_path_factory) -> AsyncIterator[TomServer]:
    settings = e2e_settings(tmp_path_factory.mktemp("abuse"),
                            server={"max_calls": 2, "rate_limit_per_min": 0})
    srv = TomServer(settings)
    srv.assistant.guards = Guards(LIMITS)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


class Errors:
    def __init__(self, bus: ev.EventBus) -> None:
        self.events: list[ev.CallError] = []
        bus.listen(lambda e: isinstance(e, ev.CallError) and self.events.append(e))

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


@contextlib.asynccontextmanager
async def client_from(address: str) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(local_addr=(address, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        yield http


def stream_url(server: TomServer) -> str:
    return server.url.replace("http", "ws", 1) + "/twilio/stream"


async def start_stream(http: aiohttp.ClientSession, server: TomServer, sid: str):
    ws = await http.ws_connect(stream_url(server), heartbeat=None)
    await ws.send_str(tc.connected_message())
    await ws.send_str(tc.start_message(f"MZ{sid}", f"CA{sid}", {"caller": "+15550199"}))
    return ws


async def first_media(ws) -> bool:
    """True when TOM sent audio before closing the stream."""
    async with asyncio.timeout(20):
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT and '"media"' in msg.data:
                return True
    return False


async def close_code(ws) -> int | None:
    async with asyncio.timeout(20):
        async for _msg in ws:
            pass
    return ws.close_code


async def wait_for(predicate, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():  # noqa: ASYNC110 - polls server state, no event to wait on
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def both_lines_busy(server: TomServer, tag: str) -> AsyncIterator[None]:
    async with client_from("127.0.0.2") as http:
        holders = [await start_stream(http, server, f"{tag}hold{i}") for i in range(2)]
        await wait_for(lambda: len(server.assistant.calls) == 2)
        try:
            yield
        finally:
            for ws in holders:
                await ws.close()
            await wait_for(lambda: not server.assistant.calls)


async def test_refusals_reuse_one_busy_message_and_a_source_over_budget_gets_none(server):
    synthesized: list[str] = []
    real = server.assistant.synthesize

    async def counting(text: str):
        synthesized.append(text)
        return await real(text)

    server.assistant.synthesize = counting  # type: ignore[method-assign]
    try:
        async with both_lines_busy(server, "busy"), client_from("127.0.0.3") as http:
            heard = []
            for i in range(LIMITS.refusals_per_min + 1):
                ws = await start_stream(http, server, f"busy{i}")
                heard.append(await first_media(ws))
                await ws.close()
    finally:
        del server.assistant.synthesize
    assert synthesized == []  # rendered once, at start-up
    assert heard == [True] * int(LIMITS.refusals_per_min) + [False]


async def test_a_refused_caller_who_hangs_up_is_peer_gone_not_internal(server):
    errors = Errors(server.bus)
    async with both_lines_busy(server, "gone"), client_from("127.0.0.4") as http:
        ws = await start_stream(http, server, "gone")
        assert await first_media(ws)
        ws._writer.transport.abort()  # gone mid-message, without a close handshake
        await wait_for(lambda: errors.events)
    assert errors.kinds() == ["peer_gone"]


async def test_a_flood_of_small_frames_ends_the_call_once_as_overload(server):
    errors = Errors(server.bus)
    async with client_from("127.0.0.5") as http:
        ws = await start_stream(http, server, "flood")
        await wait_for(lambda: "CAflood" in server.assistant.calls)
        for i in range(3000):
            if ws.closed:
                break
            await ws.send_str(tc.inbound_media_message("MZflood", b"\xff" * 160, i + 1, i * 20))
        assert await close_code(ws) == 1008
    await wait_for(lambda: server.assistant.registry.get("CAflood").outcome == "error")
    await asyncio.sleep(0.5)
    assert [(e.call_id, e.kind) for e in errors.events] == [("CAflood", "overload")]


async def test_an_oversized_media_payload_is_a_protocol_error(server):
    errors = Errors(server.bus)
    async with client_from("127.0.0.6") as http:
        ws = await start_stream(http, server, "huge")
        await wait_for(lambda: "CAhuge" in server.assistant.calls)
        await ws.send_str(tc.inbound_media_message("MZhuge", b"\xff" * 45_000, 1, 0))
        assert await close_code(ws) == 1008
    assert [(e.call_id, e.kind) for e in errors.events] == [("CAhuge", "protocol")]
    assert "ms" in errors.events[0].message


async def test_a_stream_that_never_starts_is_closed(server):
    errors = Errors(server.bus)
    async with client_from("127.0.0.7") as http:
        ws = await http.ws_connect(stream_url(server), heartbeat=None)
        await ws.send_str(tc.connected_message())
        assert await close_code(ws) == 1008
    assert errors.kinds() == ["start_timeout"]


async def test_pending_streams_per_source_are_capped(server):
    async with client_from("127.0.0.8") as http:
        waiting = [await http.ws_connect(stream_url(server), heartbeat=None)
                   for _ in range(LIMITS.pending_per_source)]
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(stream_url(server), heartbeat=None)
        assert refused.value.status == 503
        for ws in waiting:
            await ws.close()


async def test_audiosocket_without_a_first_message_is_closed_as_start_timeout(server):
    errors = Errors(server.bus)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.audiosocket.port)
    async with asyncio.timeout(20):
        await reader.read()
    writer.close()
    assert errors.kinds() == ["start_timeout"]


async def test_a_second_twilio_stream_with_a_live_call_sid_is_refused(server):
    errors = Errors(server.bus)
    async with client_from("127.0.0.9") as http:
        live = await start_stream(http, server, "dup")
        await wait_for(lambda: "CAdup" in server.assistant.calls)
        again = await start_stream(http, server, "dup")
        assert await close_code(again) == 1008
        assert "CAdup" in server.assistant.calls and not server.assistant.calls["CAdup"].ended
        assert errors.kinds() == ["duplicate_call"]
        await live.close()


async def test_a_second_audiosocket_with_a_live_uuid_is_refused(server):
    errors = Errors(server.bus)
    call_id = uuid.uuid4()
    _, live = await asyncio.open_connection("127.0.0.1", server.audiosocket.port)
    live.write(aw.encode_uuid(call_id))
    await live.drain()
    await wait_for(lambda: str(call_id) in server.assistant.calls)
    reader, again = await asyncio.open_connection("127.0.0.1", server.audiosocket.port)
    again.write(aw.encode_uuid(call_id))
    await again.drain()
    async with asyncio.timeout(10):
        await reader.read()
    again.close()
    assert not server.assistant.calls[str(call_id)].ended
    assert errors.kinds() == ["duplicate_call"]
    live.write(aw.encode_hangup())
    live.close()
    await wait_for(lambda: str(call_id) not in server.assistant.calls)


@pytest.mark.parametrize(("origin", "status"), [
    ("http://evil.example", 403), ("null", 403), ("OTHER_PORT", 403), ("SAME", 101),
    ("https://allowed.example", 101)])
async def test_browser_calls_only_from_the_dashboards_origin(server, origin, status):
    own = server.url
    origin = {"SAME": own, "OTHER_PORT": own.rsplit(":", 1)[0] + ":1"}.get(origin, origin)
    url = server.url.replace("http", "ws", 1) + "/ws/browser"
    async with aiohttp.ClientSession() as http:
        try:
            async with http.ws_connect(url, headers={"Origin": origin}, heartbeat=None) as ws:
                got = 101
                await ws.send_str('{"type": "hangup"}')
        except aiohttp.WSServerHandshakeError as exc:
            got = exc.status
    assert got == status
    await wait_for(lambda: not server.assistant.calls)


async def test_http_headers_trickled_byte_by_byte_are_cut_off(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 100
    closed = False
    async with asyncio.timeout(20):
        for byte in request:
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:
                closed = True
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.2):
                    if await reader.read(1) == b"":
                        closed = True
                        break
    writer.close()
    assert closed
