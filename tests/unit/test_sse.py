"""SSE stream and the monitor routes against a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tom.monitor.events import (
    CallEnded,
    CallStarted,
    EventBus,
    Outcome,
    Role,
    Transcript,
    TurnTimed,
    event_from_dict,
)
from tom.monitor.health import Readiness
from tom.monitor.metrics import Metrics
from tom.monitor.routes import setup_monitor_routes
from tom.monitor.sse import encode_comment, encode_event
from tom.monitor.stats import StageStats

CALLS = [{"id": "c1", "transport": "twilio", "caller": "Jürgen Groß", "state": "talking",
          "started_at": 1.0, "duration_s": 3.0, "outcome": None}]


class FakeRedis:
    def __init__(self, up: bool) -> None:
        self.up = up

    async def ping(self) -> bool:
        return self.up


class Monitor:
    def __init__(self) -> None:
        self.bus = EventBus()
        self.metrics = Metrics(process_metrics=False)
        self.stats = StageStats()
        self.bus.listen(self.metrics.on_event)
        self.bus.listen(self.stats.on_event)
        self.readiness = Readiness()


async def start(monitor: Monitor, keepalive_s: float = 15.0) -> TestClient:
    app = web.Application()
    setup_monitor_routes(app, bus=monitor.bus, metrics=monitor.metrics, stats=monitor.stats,
                         readiness=monitor.readiness, calls_snapshot=lambda: CALLS,
                         keepalive_s=keepalive_s)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def monitor() -> Monitor:
    return Monitor()


@pytest.fixture
async def client(monitor: Monitor) -> AsyncIterator[TestClient]:
    client = await start(monitor)
    yield client
    await client.close()


async def read_message(resp: aiohttp.ClientResponse) -> tuple[bytes, dict[str, Any]]:
    """The next SSE block: raw bytes and its parsed fields (comment lines under ':')."""
    raw = b""
    while not raw.endswith(b"\n\n"):
        line = await asyncio.wait_for(resp.content.readline(), 10)
        if not line:
            raise EOFError("stream ended")
        raw += line
    fields: dict[str, Any] = {}
    for line in raw.decode("utf-8").splitlines():
        if line.startswith(":"):
            fields[":"] = line[1:].strip()
        elif line:
            key, _, value = line.partition(": ")
            fields[key] = value
    if "data" in fields:
        fields["data"] = json.loads(fields["data"])
    return raw, fields


def test_encoding() -> None:
    assert encode_event({"a": "ä"}, "x") == 'event: x\ndata: {"a":"ä"}\n\n'.encode()
    assert encode_event({"text": "line1\nline2"}) == b'data: {"text":"line1\\nline2"}\n\n'
    assert encode_event(1, "evil\nevent: forged") == b"event: evil event: forged\ndata: 1\n\n"
    assert encode_comment("ping") == b": ping\n\n"


async def test_snapshot_then_events_in_order(client: TestClient, monitor: Monitor) -> None:
    resp = await client.get("/api/events")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    raw, first = await read_message(resp)
    assert first["event"] == "snapshot"
    assert first["data"] == {"calls": CALLS}
    assert "Jürgen Groß".encode() in raw
    monitor.bus.publish(CallStarted(call_id="c2", transport="local", caller="Bärbel",
                                    started_at=2.0))
    monitor.bus.publish(Transcript(call_id="c2", role=Role.CALLER,
                                   text="Grüß Gott, ich möchte Öl", turn=1))
    monitor.bus.publish(CallEnded(call_id="c2", outcome=Outcome.COMPLETED, duration_s=5.0,
                                  reason="bye"))
    got = [await read_message(resp) for _ in range(3)]
    assert [m["event"] for _, m in got] == ["call_started", "transcript", "call_ended"]
    raw_transcript, transcript = got[1]
    assert "Grüß Gott, ich möchte Öl".encode() in raw_transcript
    assert b"\\u00" not in raw_transcript
    assert transcript["data"]["type"] == "transcript"
    assert transcript["data"]["call_id"] == "c2"
    assert transcript["data"]["data"]["text"] == "Grüß Gott, ich möchte Öl"
    assert set(transcript["data"]) == {"type", "call_id", "ts_ns", "wall", "data"}
    assert transcript["data"]["data"] == {"role": "caller", "text": "Grüß Gott, ich möchte Öl",
                                          "turn": 1, "interrupted": False, "joins": None}
    assert event_from_dict(got[2][1]["data"]) == CallEnded(
        call_id="c2", outcome=Outcome.COMPLETED, duration_s=5.0, reason="bye",
        ts_ns=got[2][1]["data"]["ts_ns"], wall=got[2][1]["data"]["wall"])
    resp.close()


async def test_keepalive_comment(monitor: Monitor) -> None:
    client = await start(monitor, keepalive_s=0.2)
    try:
        resp = await client.get("/api/events")
        await read_message(resp)  # snapshot
        _, message = await read_message(resp)
        assert message == {":": "keepalive"}
        resp.close()
    finally:
        await client.close()


async def test_disconnect_removes_subscription(client: TestClient, monitor: Monitor) -> None:
    before = monitor.bus.subscriber_count
    resp = await client.get("/api/events")
    await read_message(resp)
    assert monitor.bus.subscriber_count == before + 1
    resp.close()
    for _ in range(200):  # the stream notices within its poll interval (1 s)
        if monitor.bus.subscriber_count == before:
            break
        await asyncio.sleep(0.05)
    assert monitor.bus.subscriber_count == before


async def test_server_shutdown_ends_open_streams(monitor: Monitor) -> None:
    client = await start(monitor)
    resp = await client.get("/api/events")
    await read_message(resp)
    await asyncio.wait_for(client.close(), 30)
    assert monitor.bus.subscriber_count == 0


async def test_healthz(client: TestClient) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


async def test_readyz_follows_models_listeners_and_redis(client: TestClient,
                                                          monitor: Monitor) -> None:
    resp = await client.get("/readyz")
    assert resp.status == 503  # nothing loaded yet
    assert (await resp.json())["ready"] is False
    monitor.readiness.set_model("stt")
    monitor.readiness.set_model("tts")
    monitor.readiness.set_listener("http")
    resp = await client.get("/readyz")
    body = await resp.json()
    assert resp.status == 200, body
    assert body == {"ready": True, "models": {"stt": True, "tts": True},
                    "listeners": {"http": True},
                    "redis": {"configured": False, "reachable": False}}
    monitor.readiness.redis = FakeRedis(up=False)
    resp = await client.get("/readyz")
    assert resp.status == 503
    assert (await resp.json())["redis"] == {"configured": True, "reachable": False}
    monitor.readiness.redis = FakeRedis(up=True)
    assert (await client.get("/readyz")).status == 200
    monitor.readiness.set_listener("audiosocket", up=False)
    assert (await client.get("/readyz")).status == 503


async def test_readyz_with_a_failing_check_is_503(monitor: Monitor) -> None:
    async def broken() -> dict:
        raise RuntimeError("no")

    app = web.Application()
    setup_monitor_routes(app, bus=monitor.bus, metrics=monitor.metrics, stats=monitor.stats,
                         readiness=broken, calls_snapshot=list)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        resp = await client.get("/readyz")
        assert resp.status == 503
        assert (await resp.json())["ready"] is False


async def test_metrics_and_stats_endpoints(client: TestClient, monitor: Monitor) -> None:
    monitor.bus.publish(TurnTimed(call_id="c1", turn=1, intent="faq", timings_ms={
        "stt_queue": 40, "stt": 150, "e2e": 900, "vad_wait": 300}))
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    text = await resp.text()
    assert "tom_turns_total 1.0" in text
    assert "tom_e2e_seconds_count 1.0" in text
    assert 'tom_stage_queue_seconds_count{stage="stt"} 1.0' in text
    resp = await client.get("/api/stats")
    stats = await resp.json()
    assert stats["stages"]["stt"] == {"p50_ms": 150, "p95_ms": 150, "count": 1,
                                      "target_ms": 200}
    assert stats["stages"]["stt_queue"] == {"p50_ms": 40, "p95_ms": 40, "count": 1,
                                            "target_ms": None}
    assert stats["stages"]["llm_queue"]["count"] == 0
    assert stats["window_s"] == 900
