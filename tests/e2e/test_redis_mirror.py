"""RedisMirror against a real redis-server: writes, outage, slowness, reconnect."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
import redis
import redis.asyncio as aioredis

from tom.monitor.events import (
    CallEnded,
    CallError,
    CallStarted,
    EventBus,
    Outcome,
    Role,
    StateChanged,
    Transcript,
    TurnTimed,
    event_from_dict,
)
from tom.monitor.metrics import Metrics
from tom.monitor.redis_mirror import RedisMirror

REDIS_SERVER = shutil.which("redis-server")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(REDIS_SERVER is None,
                       reason="redis-server binary not found; install it (apt: redis-server)"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A throw-away redis-server on 127.0.0.1:<port>, no persistence."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--enable-debug-command", "yes", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)
        client.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def server() -> Iterator[RedisServer]:
    srv = RedisServer(free_port())
    srv.start()
    yield srv
    srv.kill()


@pytest.fixture
async def reader(server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis(port=server.port, socket_timeout=5)  # bytes, not decoded
    yield client
    await client.aclose()


async def eventually(check: Callable[[], Awaitable[bool]], what: str,
                     within_s: float = 15) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if await check():
                return
        except (redis.ConnectionError, redis.TimeoutError):
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {what}")


def new_mirror(url: str, metrics: Metrics, stream: str) -> RedisMirror:
    return RedisMirror(url, stream, maxlen=1000, queue_size=100, metrics=metrics,
                       timeout_s=0.5, backoff_s=(0.05, 0.3), instance="test-host:1")


def dropped(metrics: Metrics) -> float:
    return metrics.registry.get_sample_value("tom_redis_dropped_total") or 0.0


def publish_call(bus: EventBus, call_id: str) -> None:
    bus.publish(CallStarted(call_id=call_id, transport="twilio", caller="Jürgen Groß",
                            started_at=100.5))
    bus.publish(StateChanged(call_id=call_id, source="greeting", dest="listening",
                             trigger="greeted"))
    bus.publish(Transcript(call_id=call_id, role=Role.CALLER,
                           text="Grüße aus Köln, Öffnungszeiten?", turn=1))
    bus.publish(TurnTimed(call_id=call_id, turn=1, intent="hours",
                          timings_ms={"stt_queue": 15, "stt": 120, "e2e": 870}))
    bus.publish(CallEnded(call_id=call_id, outcome=Outcome.COMPLETED, duration_s=31.5,
                          reason="Tschüß"))


def turn(call_id: str, i: int) -> TurnTimed:
    return TurnTimed(call_id=call_id, turn=i, intent="x", timings_ms={"e2e": 500})


async def test_events_and_call_hash_round_trip(server: RedisServer,
                                               reader: aioredis.Redis) -> None:
    bus, metrics = EventBus(), Metrics(process_metrics=False)
    stream = f"tom:test:{uuid.uuid4().hex}"
    mirror = new_mirror(server.url, metrics, stream)
    await mirror.start(bus)
    try:
        await eventually(lambda: _true(mirror.healthy), "mirror connected")
        publish_call(bus, "call-1")
        await eventually(lambda: _xlen_is(reader, stream, 5), "5 stream entries")
        entries = await reader.xrange(stream)
        types = [fields[b"type"] for _, fields in entries]
        assert types == [b"call_started", b"state_changed", b"transcript", b"turn",
                         b"call_ended"]
        transcript = entries[2][1]
        assert transcript[b"call_id"] == b"call-1"
        assert transcript[b"instance"] == b"test-host:1"
        assert "Grüße aus Köln, Öffnungszeiten?".encode() in transcript[b"data"]
        assert json.loads(transcript[b"data"].decode("utf-8"))["text"] == (
            "Grüße aus Köln, Öffnungszeiten?")
        assert float(transcript[b"ts"]) > 1_600_000_000
        turn_entry = entries[3][1]  # the stream entry reads back as the event it was
        back = event_from_dict({"type": turn_entry[b"type"].decode(), "call_id": "call-1",
                                "data": json.loads(turn_entry[b"data"])})
        assert isinstance(back, TurnTimed)
        assert back.timings_ms == {"stt_queue": 15, "stt": 120, "e2e": 870}
        summary = await reader.hgetall("tom:call:call-1")
        assert summary[b"caller"] == "Jürgen Groß".encode()
        assert summary[b"transport"] == b"twilio"
        assert summary[b"state"] == b"ended"
        assert summary[b"outcome"] == b"completed"
        assert summary[b"reason"] == "Tschüß".encode()
        assert summary[b"turns"] == b"1"
        assert summary[b"last_e2e_ms"] == b"870"
        assert float(summary[b"started_at"]) == 100.5
        assert 0 < await reader.ttl("tom:call:call-1") <= 86400
        assert dropped(metrics) == 0
        assert await mirror.ping() is True
    finally:
        await mirror.close()


async def test_outage_drops_without_blocking_then_reconnects(server: RedisServer) -> None:
    bus, metrics = EventBus(), Metrics(process_metrics=False)
    stream = "tom:test:outage"
    mirror = new_mirror(server.url, metrics, stream)
    await mirror.start(bus)
    try:
        await eventually(lambda: _true(mirror.healthy), "mirror connected")
        server.kill()
        for i in range(50):  # publishing must keep working while Redis is gone
            bus.publish(turn("call-2", i))
        await eventually(lambda: _true(dropped(metrics) == 50), "50 drops counted")
        assert mirror.dropped == 50
        assert await mirror.ping() is False
        assert mirror.healthy is False

        server.start()  # same port, empty data set
        await eventually(lambda: _true(mirror.healthy), "mirror reconnected")
        publish_call(bus, "call-3")
        async with aioredis.Redis(port=server.port) as reader:
            await eventually(lambda: _xlen_is(reader, stream, 5), "new events after restart")
            entries = await reader.xrange(stream)
            assert {fields[b"call_id"] for _, fields in entries} == {b"call-3"}
            summary = await reader.hgetall("tom:call:call-3")
            assert summary[b"caller"] == "Jürgen Groß".encode()
        assert dropped(metrics) == 50
    finally:
        await mirror.close()


async def test_slow_redis_drops_and_recovers(server: RedisServer,
                                             reader: aioredis.Redis) -> None:
    bus, metrics = EventBus(), Metrics(process_metrics=False)
    stream = "tom:test:slow"
    mirror = new_mirror(server.url, metrics, stream)
    await mirror.start(bus)
    try:
        await eventually(lambda: _true(mirror.healthy), "mirror connected")
        blocker = aioredis.Redis(port=server.port, socket_timeout=10)
        sleeping = asyncio.create_task(blocker.execute_command("DEBUG", "SLEEP", "2"))
        await asyncio.sleep(0.1)  # let the server go to sleep
        for i in range(200):  # more than the queue holds
            bus.publish(turn("call-4", i))
        await eventually(lambda: _true(dropped(metrics) > 0), "drops while Redis is slow")
        await sleeping
        await blocker.aclose()
        await eventually(lambda: _true(mirror.healthy), "mirror healthy again")
        before = await reader.xlen(stream)
        bus.publish(CallEnded(call_id="call-4", outcome=Outcome.TIMEOUT, duration_s=1.0,
                              reason="Ruhe"))
        await eventually(lambda: _xlen_is(reader, stream, before + 1), "event after recovery")
        assert (await reader.hgetall("tom:call:call-4"))[b"outcome"] == b"timeout"
    finally:
        await mirror.close()


async def test_starts_while_redis_is_down_and_connects_later() -> None:
    srv = RedisServer(free_port())
    bus, metrics = EventBus(), Metrics(process_metrics=False)
    mirror = new_mirror(srv.url, metrics, "tom:test:late")
    await mirror.start(bus)
    try:
        bus.publish(CallError(call_id="call-5", kind="stt", message="früh"))
        await eventually(lambda: _true(dropped(metrics) == 1), "drop while down")
        assert mirror.healthy is False
        srv.start()
        await eventually(lambda: _true(mirror.healthy), "connected once Redis is up")
        bus.publish(CallError(call_id="call-5", kind="stt", message="später"))
        async with aioredis.Redis(port=srv.port) as reader:
            await eventually(lambda: _xlen_is(reader, "tom:test:late", 1), "event written")
            summary = await reader.hgetall("tom:call:call-5")
            assert summary[b"errors"] == b"1" and summary[b"last_error"] == b"stt"
    finally:
        await mirror.close()
        srv.kill()


async def test_close_unsubscribes() -> None:
    bus = EventBus()
    mirror = RedisMirror("redis://127.0.0.1:1/0", metrics=None, timeout_s=0.2)
    await mirror.start(bus)
    assert bus.subscriber_count == 1
    await mirror.close()
    assert bus.subscriber_count == 0
    assert await mirror.ping() is False


async def _true(value: bool) -> bool:
    return value


async def _xlen_is(client: aioredis.Redis, stream: str, n: int) -> bool:
    return await client.xlen(stream) == n


async def test_close_writes_what_is_still_queued(server: RedisServer,
                                                 reader: aioredis.Redis) -> None:
    bus, metrics = EventBus(), Metrics(process_metrics=False)
    mirror = new_mirror(server.url, metrics, "tom:test:close")
    await mirror.start(bus)
    await eventually(lambda: _true(mirror.healthy), "mirror connected")
    publish_call(bus, "call-6")
    await mirror.close()  # right away: the queue still holds the events
    assert await reader.xlen("tom:test:close") == 5
    assert (await reader.hgetall("tom:call:call-6"))[b"outcome"] == b"completed"
    assert dropped(metrics) == 0
