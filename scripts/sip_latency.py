"""Measure TOM's SIP answer and greeting latency with baresip callers (docs/sip.md).

    PYTHONPATH=. python scripts/sip_latency.py --calls 4 [--parallel 1]

Starts a TomServer with [sip] on a free port, lets `--calls` baresip processes dial it (at most
`--parallel` at once), each silent for 8 s, and prints per call: INVITE → 200 OK and 200 OK →
first greeting frame (TOM's side, from the agent) and the greeting's start in what the caller
recorded (caller's side, from baresip's decoded-audio dump). Needs baresip (Debian baresip-core).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "e2e")]

from sip_peers import Baresip  # noqa: E402
from tomtest import e2e_settings, running_server  # noqa: E402

from tom.audio import float_to_pcm16  # noqa: E402

SPEECH_LEVEL = 0.02  # |sample| above this (of full scale) counts as TOM speaking


def resources() -> tuple[int, int]:
    """This process's threads and open file descriptors (sockets included)."""
    return len(os.listdir("/proc/self/task")), len(os.listdir("/proc/self/fd"))


def heard_after_ms(audio: np.ndarray, rate: int) -> float | None:
    loud = np.flatnonzero(np.abs(audio) > SPEECH_LEVEL)
    return round(float(loud[0]) / rate * 1000, 1) if len(loud) else None


async def one_call(port: int, workdir: Path) -> float | None:
    phone = Baresip(workdir, float_to_pcm16(np.zeros(8000 * 8)))
    phone.dial(f"sip:tom@127.0.0.1:{port}", max_s=30)
    try:
        run = await phone.finish(40)
    finally:
        phone.kill()
    return heard_after_ms(run.heard, run.rate)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=4)
    parser.add_argument("--parallel", type=int, default=1)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tom-sip-latency-"))
    settings = e2e_settings(tmp, server={"max_calls": max(4, args.parallel)},
                            sip={"enabled": True, "port": 0})
    async with running_server(settings) as server:
        gate = asyncio.Semaphore(args.parallel)

        async def call(i: int) -> float | None:
            async with gate:
                return await one_call(server.sip.port, tmp / f"call{i}")

        first = await call(0)  # warm: the resources one call leaves behind are the baseline
        await asyncio.sleep(1)
        before = resources()
        heard = [first, *await asyncio.gather(*(call(i) for i in range(1, args.calls)))]
        await asyncio.sleep(2)
        after = resources()
        timings = list(server.sip.timings)
        failed = args.calls - len(timings)
        ended = server.assistant.registry.listing()["recent"]
        outcomes = {c["outcome"] for c in ended}
    print(f"{'call':>4} {'INVITE→200 ms':>14} {'200→greeting frame ms':>22} "
          f"{'caller hears greeting ms':>25}")
    for i, (t, h) in enumerate(zip(timings, heard, strict=False)):
        print(f"{i:>4} {t.invite_to_200_ms:>14} {t.first_audio_after_200_ms!s:>22} {h!s:>25}")
    answer = [t.invite_to_200_ms for t in timings]
    greet = [t.first_audio_after_200_ms for t in timings if t.first_audio_after_200_ms is not None]
    caller = [h for h in heard if h is not None]
    print(f"calls answered: {len(timings)} of {args.calls} ({failed} failed); outcomes: "
          f"{sorted(outcomes)}")
    print(f"after call 1 → after call {args.calls}: threads {before[0]} → {after[0]}, "
          f"open files {before[1]} → {after[1]}")
    for name, values in (("INVITE→200", answer), ("200→greeting frame", greet),
                         ("caller hears greeting", caller)):
        if values:
            print(f"{name}: median {statistics.median(values):.1f} ms, max {max(values):.1f} ms "
                  f"({len(values)} calls)")


if __name__ == "__main__":
    asyncio.run(main())
