"""Soak: many short calls against the real server and models, then a check for leaks.

50 calls in a row, then 4 at once, over the Twilio protocol (greeting, one question,
goodbye). After a warm-up of 5 calls, open file descriptors, asyncio tasks, threads and RSS
may grow only by a small bound; the figures go to test-artifacts/soak.json.
`make soak` runs it (`pytest -m slow`); SOAK_CALLS=10 makes a shorter run.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import threading
from pathlib import Path

import pytest
from tomtest import e2e_settings, running_server

from tom.bench.caller import CallResult, place_call

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SEQUENTIAL = int(os.environ.get("SOAK_CALLS", "50"))
CONCURRENT = 4
WARMUP = 5
ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "soak.json"

# Growth allowed after warm-up. A leak of one descriptor or task per call would exceed these
# within the run; native allocators (ONNX, CTranslate2, llama.cpp) keep some slack in RSS.
MAX_FD_GROWTH = 4
MAX_TASK_GROWTH = 2
MAX_THREAD_GROWTH = 4  # the default executor may still start a lazy thread or two
MAX_RSS_GROWTH_MB = 64.0


def resources() -> dict[str, float]:
    """What this process (the server runs in it) holds right now."""
    rss_kb = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    return {"fds": len(os.listdir("/proc/self/fd")), "tasks": len(asyncio.all_tasks()),
            "threads": threading.active_count(), "rss_mb": round(rss_kb / 1024, 1)}


async def settled(server) -> dict[str, float]:
    """Resources once every call has fully ended and its tasks are gone."""
    for _ in range(200):
        if not server.assistant.calls and not server.assistant.registry.active:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    gc.collect()
    return resources()


@pytest.fixture(scope="module")
async def soak_server(tmp_path_factory):
    # rate_limit_per_min: one source places all calls; the default (60) would allow them too,
    # set explicitly so the soak does not depend on the default.
    settings = e2e_settings(tmp_path_factory.mktemp("soak"), audiosocket={"enabled": False},
                            server={"max_calls": CONCURRENT, "rate_limit_per_min": 600})
    async with running_server(settings) as server:
        yield server


def failures(results: list[CallResult], server) -> list[str]:
    out = [f"{r.call_sid}: {r.failure}" for r in results if not r.ok]
    for r in results:
        record = server.assistant.registry.get(r.call_sid)
        outcome = record.outcome if record else "missing"
        if r.ok and outcome != "completed":
            out.append(f"{r.call_sid}: outcome {outcome}")
        elif r.ok and not r.turns[0].answered:
            out.append(f"{r.call_sid}: question not answered")
    return out


def latency_summary(results: list[CallResult]) -> dict[str, float | None]:
    e2e = [t.e2e_ms for r in results for t in r.turns[:1] if t.e2e_ms is not None]
    greet = [r.greeting_ms for r in results if r.greeting_ms is not None]

    def pct(xs: list[float], q: int) -> float | None:
        return round(statistics.quantiles(xs, n=100)[q - 1], 1) if len(xs) >= 2 else None

    return {"e2e_p50_ms": pct(e2e, 50), "e2e_p95_ms": pct(e2e, 95),
            "greeting_p50_ms": pct(greet, 50)}


async def test_soak(soak_server, turn) -> None:
    script = [turn("What are your opening hours on Saturday?"),
              turn("Thank you, goodbye.", may_end_call=True)]

    errors: list[dict] = []
    soak_server.bus.listen(lambda e: errors.append({"call_id": e.call_id, **e.data})
                           if e.type == "error" else None)

    rss_by_call: list[float] = []

    async def call(i: int) -> CallResult:
        result = await place_call(soak_server.url, script, caller=f"+1555010{i:04d}")
        # Keep the figures, drop the audio: the test itself must not look like a leak.
        result.received, result.audio = [], b""
        for t in result.turns:
            t.reply_audio = b""
        rss_by_call.append(resources()["rss_mb"])
        return result

    results: list[CallResult] = []
    for i in range(WARMUP):
        results.append(await call(i))
    baseline = await settled(soak_server)
    for i in range(WARMUP, SEQUENTIAL):
        results.append(await call(i))
    after_sequential = await settled(soak_server)
    results += await asyncio.gather(*(call(SEQUENTIAL + i) for i in range(CONCURRENT)))
    final = await settled(soak_server)

    growth = {k: round(final[k] - baseline[k], 1) for k in baseline}
    report = {"calls": len(results), "sequential": SEQUENTIAL, "concurrent": CONCURRENT,
              "warmup": WARMUP, "failed": failures(results, soak_server),
              "error_events": errors[:20], "error_count": len(errors),
              "baseline": baseline, "after_sequential": after_sequential, "final": final,
              "growth": growth, "latency": latency_summary(results),
              "rss_mb_after_each_call": rss_by_call,
              "bounds": {"fds": MAX_FD_GROWTH, "tasks": MAX_TASK_GROWTH,
                         "threads": MAX_THREAD_GROWTH, "rss_mb": MAX_RSS_GROWTH_MB}}
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print("\nsoak:", json.dumps(report, indent=2))

    assert report["failed"] == []
    assert errors == [], "errors during the soak (see error_events in soak.json)"
    assert len(results) == SEQUENTIAL + CONCURRENT
    assert growth["fds"] <= MAX_FD_GROWTH, report
    assert growth["tasks"] <= MAX_TASK_GROWTH, report
    assert growth["threads"] <= MAX_THREAD_GROWTH, report
    assert growth["rss_mb"] <= MAX_RSS_GROWTH_MB, report
