"""Scale-out: Kamailio's dispatcher spreads calls over two `tom serve` processes (docs/scale-out.md).

Six calls at once are spread over both (at most 4 per process, docs/sip.md); one TOM is stopped
(SIGTERM: it finishes its calls and answers new INVITEs 503); calls made meanwhile reach the
other (Kamailio fails over), and so do calls after it has gone; every call a TOM accepted ends
with the caller's hang-up.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from sip_peers import Baresip, Kamailio, free_port, need, options_ok, options_status
from tomtest import always_transferable_profile

from tom.audio import float_to_pcm16
from tom.telephony.sip.stack import free_port as free_sip_port

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


class TomProcess:
    """`tom serve` in a process of its own (PJSIP allows one SIP endpoint per process)."""

    def __init__(self, workdir: Path, name: str, rtp_port: int) -> None:
        self.dir = workdir / name
        self.dir.mkdir(parents=True)
        self.sip_port = free_sip_port("127.0.0.1")
        self.http_port = free_port(socket.SOCK_STREAM)
        self.logfile = self.dir / "tom.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOM_")}
        env.update({
            "TOM_SERVER_PORT": str(self.http_port), "TOM_SERVER_MAX_CALLS": "4",
            "TOM_SERVER_SHUTDOWN_GRACE_S": "30", "TOM_AUDIOSOCKET_ENABLED": "false",
            # two TOMs and their callers share 2 cores here: admission by count only
            "TOM_LIMITS_ADMIT_QUEUE_P95_MS": "0",
            "TOM_DATA_DIR": str(self.dir / "data"), "TOM_LLM_THREADS": "1",
            "TOM_STT_THREADS": "1", "TOM_SIP_ENABLED": "true", "TOM_SIP_PORT": str(self.sip_port),
            "TOM_SIP_RTP_PORT": str(rtp_port),
            "TOM_ASSISTANT_PROFILE": str(always_transferable_profile(self.dir)),
            "PYTHONPATH": str(REPO), "NO_COLOR": "1"})
        self.proc = subprocess.Popen([sys.executable, "-m", "tom.cli", "serve"], cwd=REPO,
                                     env=env, stdout=self.logfile.open("wb"),
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    async def ready(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tom serve exited: {self.log()[-3000:]}")
            if await asyncio.to_thread(options_ok, self.sip_port, 0.5):
                return
            await asyncio.sleep(0.5)
        raise RuntimeError(f"tom serve did not answer OPTIONS: {self.log()[-3000:]}")

    def calls(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/api/calls", timeout=5) \
                as r:
            return json.loads(r.read())

    def log(self) -> str:
        return self.logfile.read_text(encoding="utf-8", errors="replace")

    def ended_outcomes(self) -> list[str]:
        """The outcome of every call this TOM ended, from its JSON log lines."""
        out = []
        for line in self.log().splitlines():
            if line.startswith("{") and '"call ended"' in line:
                out.append(json.loads(line)["outcome"])
        return out

    async def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.to_thread(self.proc.wait), 60)
            except TimeoutError:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait)


def silence(seconds: float) -> bytes:
    return float_to_pcm16(np.zeros(int(8000 * seconds)))


async def calls(kam: Kamailio, workdir: Path, n: int, seconds: float) -> list[str]:
    """`n` callers at once (a little apart) to the pool; their baresip logs when all hung up."""
    phones = []
    for i in range(n):
        phone = Baresip(workdir / f"caller{i}", silence(seconds))
        phone.dial(f"sip:tom-pool@127.0.0.1:{kam.port}", max_s=seconds + 30)
        phones.append(phone)
        await asyncio.sleep(0.3)
    try:
        return [(await p.finish(seconds + 40)).log for p in phones]
    finally:
        for p in phones:
            p.kill()


async def test_two_toms_behind_kamailio_spread_and_fail_over(tmp_path):
    need("baresip")
    a = TomProcess(tmp_path, "a", 40000)
    b = TomProcess(tmp_path, "b", 40400)
    kam = Kamailio(tmp_path / "kam", "unused", pool=[a.sip_port, b.sip_port])
    try:
        await asyncio.gather(a.ready(), b.ready())
        await kam.start()
        first = asyncio.create_task(calls(kam, tmp_path / "first", 6, 16))
        await asyncio.sleep(5)  # all six are talking to a TOM now
        active_a, active_b = len(a.calls()["active"]), len(b.calls()["active"])
        assert active_a >= 1 and active_b >= 1 and active_a + active_b == 6, (active_a, active_b)
        b.proc.send_signal(signal.SIGTERM)  # B refuses new calls (503), finishes the ones it has
        await asyncio.sleep(1)
        # Kamailio's probe hears B's 503 and skips it; an INVITE sent before that is refused
        # 503 and fails over: either way every call made meanwhile reaches A.
        assert await asyncio.to_thread(options_status, b.sip_port, 2) == "SIP/2.0 503 Busy"
        for i in range(2):
            logs = await calls(kam, tmp_path / f"during{i}", 1, 3)
            assert "Call established" in logs[0], logs[0][-1500:]
            # A was full (4 of 4) during that call and said so to the probes: it is back in the
            # rotation at the next probe (ds_ping_interval, 2 s), docs/scale-out.md
            await asyncio.sleep(3)
        logs = await first
        assert all("Call established" in log for log in logs), [log[-1500:] for log in logs]
        await b.stop()
        assert b.ended_outcomes() == ["hung_up_by_caller"] * active_b, b.log()[-3000:]
        logs = await calls(kam, tmp_path / "after", 3, 4)  # B is gone: all to A
        assert all("Call established" in log for log in logs), [log[-1500:] for log in logs]
        recent = a.calls()["recent"]
        assert len(recent) == active_a + 2 + 3, recent
        assert all(c["outcome"] == "hung_up_by_caller" and c["transport"] == "sip"
                   for c in recent), recent
    finally:
        await kam.stop()
        await asyncio.gather(a.stop(), b.stop())
