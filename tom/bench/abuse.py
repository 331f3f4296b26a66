"""What an abusive peer does to TOM, as small async actions on loopback (issue 17).

The red-team (tests/redteam) asserts how TOM answers each of them; `tom bench --abuse`
(tom/bench/abuse_bench.py) runs them as background load while it measures a good call. Each
action comes from its own source address (any 127.0.0.x on Linux) so per-source limits
apply to the abuser only, and none of them raises for what TOM does back: they report it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp

from tom.bench import twilio_caller as tc
from tom.bench.caller import new_sid, stream_url
from tom.bench.line import SILENCE, PhoneLine

SMALL_FRAME = 160  # 20 ms of μ-law
BIG_FRAME = 33_000  # μ-law bytes: a 45 KB media message once base64 and JSON are added
CLOSE_WAIT_S = 20.0
HANG_UP_WAIT_S = 5.0


@contextlib.asynccontextmanager
async def client_from(source: str) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client whose connections come from `source` (e.g. "127.0.0.7")."""
    connector = aiohttp.TCPConnector(local_addr=(source, 0), force_close=True, limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        yield http


async def _until_closed(ws: aiohttp.ClientWebSocketResponse, limit_s: float,
                        stream_sid: str = "") -> bool:
    """Read what TOM sends until it closes, echoing its marks as Twilio does (at once: nobody
    listens); False when still open after limit_s."""
    try:
        async with asyncio.timeout(limit_s):
            async for msg in ws:
                if stream_sid and msg.type == aiohttp.WSMsgType.TEXT and '"mark"' in msg.data:
                    name = tc.parse_outbound(msg.data).get("name", "")
                    await ws.send_str(tc.mark_echo_message(stream_sid, name))
    except TimeoutError:
        return False
    except (aiohttp.ClientError, ConnectionError):
        pass
    return True


async def _start_stream(ws: aiohttp.ClientWebSocketResponse, call_sid: str,
                        stream_sid: str) -> None:
    await ws.send_str(tc.connected_message())
    await ws.send_str(tc.start_message(stream_sid, call_sid, {"caller": "+15550666"}))


async def refused_call(http: aiohttp.ClientSession, url: str, *, hang_up_at_once: bool,
                       call_sid: str | None = None) -> str:
    """Dial while every line is busy: hang up as soon as the busy message begins (or after
    HANG_UP_WAIT_S without audio) or listen to the end. Returns what happened:
    `http_<status>`, `closed_<code>`, `hung_up` or `open`."""
    try:
        async with http.ws_connect(stream_url(url), heartbeat=None,
                                   timeout=aiohttp.ClientWSTimeout(ws_close=1.0)) as ws:
            stream_sid = new_sid("MZ")
            await _start_stream(ws, call_sid or new_sid("CA"), stream_sid)
            if hang_up_at_once:
                with contextlib.suppress(TimeoutError):
                    await ws.receive(timeout=HANG_UP_WAIT_S)  # the busy message has begun
                if ws.closed:
                    return f"closed_{ws.close_code}"
                drop(ws)
                return "hung_up"
            if not await _until_closed(ws, CLOSE_WAIT_S, stream_sid):
                return "open"
            return f"closed_{ws.close_code}"
    except aiohttp.WSServerHandshakeError as exc:
        return f"http_{exc.status}"
    except (aiohttp.ClientError, ConnectionError) as exc:
        return type(exc).__name__


def drop(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Hang up the way a phone line does: the connection just goes, no closing handshake."""
    conn = ws._conn  # noqa: SLF001  (aiohttp offers no public abort of a client websocket)
    transport = conn.transport if conn is not None else None
    if transport is not None:
        transport.abort()


async def refusal_storm(url: str, source: str, calls: int, *, parallel: int = 8,
                        pause_s: float = 0.0, stop: asyncio.Event | None = None) -> Counter[str]:
    """One source opening and dropping calls while the lines are busy, `parallel` at a time;
    every other caller hangs up during the busy message. Counts the outcomes."""
    seen: Counter[str] = Counter()
    async with client_from(source) as http:
        for wave in range(0, calls, parallel):
            if stop is not None and stop.is_set():
                break
            outcomes = await asyncio.gather(*(
                refused_call(http, url, hang_up_at_once=i % 2 == 0)
                for i in range(wave, min(calls, wave + parallel))))
            seen.update(outcomes)
            await asyncio.sleep(pause_s)
    return seen


async def media_flood(url: str, source: str, *, frame_bytes: int, frames: int,
                      call_sid: str | None = None) -> str:
    """One valid call that sends `frames` media messages of `frame_bytes` μ-law as fast as it
    can, then waits for TOM to end it. Returns `closed_<code>`, `open`, `http_<status>`."""
    payload = SILENCE * (frame_bytes // len(SILENCE)) + SILENCE[:frame_bytes % len(SILENCE)]
    stream_sid = new_sid("MZ")
    async with client_from(source) as http:
        try:
            async with http.ws_connect(stream_url(url), heartbeat=None, max_msg_size=0,
                                       timeout=aiohttp.ClientWSTimeout(ws_close=1.0)) as ws:
                await _start_stream(ws, call_sid or new_sid("CA"), stream_sid)
                for i in range(frames):
                    if ws.closed:
                        break
                    await ws.send_str(tc.inbound_media_message(stream_sid, payload, i + 1,
                                                               i * 20))
                if not await _until_closed(ws, CLOSE_WAIT_S):
                    return "open"
                return f"closed_{ws.close_code}"
        except aiohttp.WSServerHandshakeError as exc:
            return f"http_{exc.status}"
        except (aiohttp.ClientError, ConnectionError) as exc:
            return type(exc).__name__


@dataclass(frozen=True, slots=True)
class Idle:
    """How long an idle connection stayed open: `closed_after_s` is None if TOM never closed
    it within the watch."""

    what: str
    closed_after_s: float | None


async def idle_websocket(url: str, source: str, watch_s: float) -> Idle:
    """A Twilio websocket that never sends `start` but answers pings, as a stalled peer does."""
    t0 = time.monotonic()
    async with client_from(source) as http:
        try:
            async with http.ws_connect(stream_url(url), heartbeat=None, autoping=True) as ws:
                await ws.send_str(tc.connected_message())
                closed = await _until_closed(ws, watch_s)
        except aiohttp.WSServerHandshakeError:
            closed = True
    return Idle("websocket without start", time.monotonic() - t0 if closed else None)


async def idle_tcp(host: str, port: int, source: str, watch_s: float) -> Idle:
    """A raw TCP connection (AudioSocket) that sends nothing at all."""
    t0 = time.monotonic()
    reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
    try:
        closed = await _eof_within(reader, watch_s)
    finally:
        writer.close()
    return Idle("silent tcp", time.monotonic() - t0 if closed else None)


async def trickled_headers(host: str, port: int, source: str, watch_s: float,
                           every_s: float = 2.0) -> Idle:
    """An HTTP request whose headers arrive one byte every `every_s` (slowloris)."""
    t0 = time.monotonic()
    reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
    request = b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    try:
        for byte in request:
            left = watch_s - (time.monotonic() - t0)
            if left <= 0:
                return Idle("trickled headers", None)
            try:
                writer.write(bytes((byte,)))
                await writer.drain()
            except ConnectionError:
                break
            if await _eof_within(reader, min(every_s, left)):
                break
        else:
            return Idle("trickled headers", None)
    finally:
        writer.close()
    return Idle("trickled headers", time.monotonic() - t0)


async def _eof_within(reader: asyncio.StreamReader, limit_s: float) -> bool:
    """True when the peer closed (or reset) within limit_s; data read meanwhile is dropped."""
    try:
        async with asyncio.timeout(limit_s):
            while await reader.read(4096):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


@contextlib.asynccontextmanager
async def held_line(url: str, source: str) -> AsyncIterator[PhoneLine]:
    """A live call that only sends silence at real-time pace: it keeps one line busy."""
    async with client_from(source) as http:
        async with http.ws_connect(stream_url(url), heartbeat=None,
                                   timeout=aiohttp.ClientWSTimeout(ws_close=1.0)) as ws:
            line = PhoneLine(ws, new_sid("MZ"))
            await _start_stream(ws, new_sid("CA"), line.stream_sid)
            tasks = [asyncio.create_task(line.receive()), asyncio.create_task(line.pace())]
            try:
                yield line
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
