"""Admission by load through a real server: an overloaded box refuses the next caller politely.

The overload is real, not simulated: a long job holds the STT engine's thread while the first
caller's turn ends, so that turn's transcript really waits for the engine; the load gate reads
that wait from the turn's timings like any other.
"""

from __future__ import annotations

import asyncio
import threading

import aiohttp
import pytest
from tomtest import e2e_settings, running_server

from tom import admission
from tom.audio import ulaw_decode
from tom.bench import twilio_caller as tc
from tom.bench.caller import place_call
from tom.monitor import events as ev

pytestmark = pytest.mark.e2e
LIMIT_MS = 100.0
HOLD_S = 0.4  # how long the engine stays held after the caller's turn queued behind it


async def hold_stt_until_a_turn_waits(worker, release: threading.Event) -> None:
    """Keep the STT thread busy until a caller's request has queued behind it, then HOLD_S more."""
    held = asyncio.create_task(worker.run(release.wait, 60))
    for _ in range(3000):  # polled: the worker has no event for "a request queued"
        if worker.queued():
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(HOLD_S)
    release.set()
    await held


async def test_a_call_over_the_load_limit_hears_busy_while_the_first_goes_on(
        tmp_path, turn, monkeypatch):
    monkeypatch.setattr(admission, "MIN_TURNS", 1)  # one slow turn is evidence enough here
    settings = e2e_settings(tmp_path, server={"max_calls": 4},
                            limits={"admit_queue_p95_ms": LIMIT_MS})
    async with running_server(settings) as srv:
        ended: list[ev.CallEnded] = []
        answered = asyncio.Event()
        srv.bus.listen(lambda e: isinstance(e, ev.CallEnded) and ended.append(e))
        srv.bus.listen(lambda e: isinstance(e, ev.TurnTimed) and answered.set())
        release = threading.Event()
        try:
            holder = asyncio.create_task(
                hold_stt_until_a_turn_waits(srv.assistant.workers["stt"], release))
            first = asyncio.create_task(place_call(srv.url, [
                turn("Where are you located?"),
                turn("And are you open on Saturday?")]))
            await holder
        finally:
            release.set()
        async with asyncio.timeout(60):  # the first turn is answered (its timings published)
            await answered.wait()
        assert srv.assistant.registry.refusal() is not None

        received = []
        async with aiohttp.ClientSession() as http, http.ws_connect(
                f"{srv.url}/twilio/stream") as ws:
            await ws.send_str(tc.connected_message())
            await ws.send_str(tc.start_message("MZload", "CAload", {"caller": "+15550112"}))
            async with asyncio.timeout(30):
                async for msg in ws:  # TOM plays the busy message, then closes
                    received.append(tc.parse_outbound(msg.data))
        heard = ulaw_decode(b"".join(m["payload"] for m in received if m["event"] == "media"))
        message = await srv.assistant.busy_audio(8000)
        assert abs(len(heard) - len(message)) < 0.25 * len(message), "the whole busy message"
        refused = [e for e in ended if e.call_id == "CAload"]
        assert refused and refused[0].outcome == ev.Outcome.BUSY
        assert "capacity" in refused[0].reason

        result = await first  # the call already up was not touched: both its turns answered
        assert result.ok, result.failure
        assert all(t.answered for t in result.turns)
        record = srv.assistant.registry.get(result.call_sid)
        assert record is not None and len(record.turns) == 2
        assert max(t["timings_ms"].get("stt_queue", 0) for t in record.turns) > LIMIT_MS
