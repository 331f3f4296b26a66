"""scripts/realtime_probe.py as a person runs it, against the fake Twilio-protocol TOM."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from tom.audio import write_wav
from tom.bench.fake_tom import FakeTom

PROBE = Path(__file__).resolve().parents[2] / "scripts" / "realtime_probe.py"


@pytest.fixture
def wav(tmp_path) -> str:
    t = np.arange(8000) / 16000
    audio = np.concatenate([np.zeros(4000), 0.3 * np.sin(2 * np.pi * 220 * t), np.zeros(4000)])
    path = tmp_path / "turn.wav"
    write_wav(path, audio.astype(np.float32), 16000)  # 16 kHz: the probe resamples itself
    return str(path)


async def _probe(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(PROBE), *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode("utf-8")


async def _against(mode: str, *args: str) -> tuple[int, str]:
    fake = FakeTom(mode=mode)
    url = await fake.start()
    try:
        return await _probe("--url", url, "--answer-timeout", "2", "--quiet-ms", "300", *args)
    finally:
        await fake.stop()


async def test_probe_prints_latencies_and_passes(wav):
    code, out = await _against("ok", wav, wav)
    assert code == 0, out
    latencies = [int(ms) for ms in re.findall(r"turn \d \(turn\.wav\): (\d+) ms", out)]
    assert len(latencies) == 2
    assert all(ms >= 100 for ms in latencies), out  # fake answers after 10 silent frames
    assert "p50" in out and "p95" in out and out.strip().endswith("OK")


async def test_probe_fails_when_target_is_missed(wav):
    code, out = await _against("ok", "--target-ms", "50", wav)
    assert code == 1 and "misses the target of 50 ms" in out


async def test_probe_fails_without_an_answer(wav):
    code, out = await _against("never_answer", wav)
    assert code == 1 and "no answer" in out


async def test_probe_fails_without_a_greeting(wav):
    code, out = await _against("no_greeting", "--greeting-timeout", "1", wav)
    assert code == 1 and "no greeting" in out


async def test_probe_reports_an_unreachable_server(wav):
    code, out = await _probe("--url", "ws://127.0.0.1:9/twilio/stream", wav)
    assert code == 2 and "probe failed" in out


def test_probe_imports_nothing_from_tom():
    source = PROBE.read_text(encoding="utf-8")
    assert not re.search(r"^\s*(from|import)\s+tom\b", source, re.M)
