#!/usr/bin/env python3
"""Call a running TOM over Twilio Media Streams and time each answer from the caller's side.

    python scripts/realtime_probe.py --url ws://127.0.0.1:8080/twilio/stream hello.wav hours.wav

Each WAV is one caller turn, played at real-time pace as 20 ms μ-law frames (silence between
turns, like a phone line). For every turn it prints the time from the last speech frame sent to
the first reply frame received, then p50/p95. Exit status 1 when p95 misses --target-ms or a
turn gets no answer; 2 for bad arguments or an unreachable server.

Standalone on purpose (stdlib, aiohttp, numpy, soxr only): it checks a deployed TOM from any
machine without installing TOM.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import secrets
import sys
import time
import wave
from pathlib import Path

import aiohttp
import numpy as np
import soxr

RATE = 8000
FRAME = 160  # samples per 20 ms frame at 8 kHz
FRAME_S = 0.02


# --- audio ----------------------------------------------------------------------------------------


def _ulaw_table() -> np.ndarray:
    """G.711 μ-law code for every 16-bit sample (bias 0x84, clip 32635, bits inverted)."""
    pcm = np.arange(-32768, 32768, dtype=np.int32)
    sign = np.where(pcm < 0, 0x80, 0)
    mag = np.minimum(np.where(pcm < 0, -pcm - 1, pcm), 32635) + 0x84  # one's complement, as G.191
    exp = np.floor(np.log2(mag)).astype(np.int32) - 7
    mant = (mag >> (exp + 3)) & 0x0F
    return (~(sign | (exp << 4) | mant) & 0xFF).astype(np.uint8)


_ENCODE = _ulaw_table()


def ulaw_encode(pcm: np.ndarray) -> bytes:
    """int16 samples to μ-law bytes."""
    return _ENCODE[pcm.astype(np.int32) + 32768].tobytes()


def read_turn(path: Path) -> np.ndarray:
    """A WAV file as int16 mono 8 kHz."""
    with wave.open(str(path), "rb") as w:
        width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
        raw = w.readframes(w.getnframes())
    if width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768
    elif width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128
    elif width == 4:
        x = (np.frombuffer(raw, "<i4").astype(np.float64) / 2**31).astype(np.float32)
    else:
        raise ValueError(f"{path}: {8 * width}-bit WAV is not supported; use 16-bit PCM")
    x = x[: len(x) // channels * channels].reshape(-1, channels).mean(axis=1)
    if rate != RATE:
        x = soxr.resample(x, rate, RATE)
    return np.clip(np.rint(x * 32768), -32768, 32767).astype(np.int16)


def last_speech_frame(pcm: np.ndarray) -> int:
    """Index of the last 20 ms frame within 35 dB of the loudest (and above -50 dBFS)."""
    n = max(1, len(pcm) // FRAME)
    frames = np.resize(pcm.astype(np.float64) / 32768, n * FRAME).reshape(n, FRAME)
    db = 20 * np.log10(np.maximum(np.sqrt(np.mean(frames**2, axis=1)), 1e-9))
    voiced = np.flatnonzero(db > max(-50.0, db.max() - 35))
    return int(voiced[-1]) if voiced.size else n - 1


def percentile(values: list[float], q: float) -> float:
    xs = sorted(values)
    rank = (len(xs) - 1) * q / 100
    lo, hi = math.floor(rank), math.ceil(rank)
    return xs[lo] + (xs[hi] - xs[lo]) * (rank - lo)


# --- the call -------------------------------------------------------------------------------------


class Probe:
    """One call: a paced sender, a receiver that echoes marks when their audio has played."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.sid = "MZ" + secrets.token_hex(16)
        self.call_sid = "CA" + secrets.token_hex(16)
        self.out: list[bytes] = []  # frames waiting to be sent
        self.sent_last_speech: asyncio.Future[float] | None = None
        self.last_speech_index = -1
        self.media_times: list[float] = []
        self.play_end = 0.0
        self.marks: list[tuple[float, str]] = []
        self.closed = False
        self.errors: list[str] = []
        self.seq = 1
        self.chunk = 0

    def _msg(self, event: str, **body: object) -> str:
        self.seq += 1
        return json.dumps({"event": event, "sequenceNumber": str(self.seq),
                           "streamSid": self.sid, **body})

    async def open(self) -> None:
        await self.ws.send_str(json.dumps({"event": "connected", "protocol": "Call",
                                           "version": "1.0.0"}))
        await self.ws.send_str(json.dumps({
            "event": "start", "sequenceNumber": "1", "streamSid": self.sid,
            "start": {"streamSid": self.sid, "callSid": self.call_sid,
                      "accountSid": "AC" + "0" * 32, "tracks": ["inbound"],
                      "customParameters": {"caller": "+15550100"},
                      "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": RATE,
                                      "channels": 1}}}))

    async def pace(self) -> None:
        next_t = time.monotonic()
        while not self.ws.closed:
            frame = self.out.pop(0) if self.out else b"\xff" * FRAME
            self.chunk += 1
            payload = base64.b64encode(frame).decode("ascii")
            try:
                await self.ws.send_str(self._msg("media", media={
                    "track": "inbound", "chunk": str(self.chunk),
                    "timestamp": str((self.chunk - 1) * 20), "payload": payload}))
                now = time.monotonic()
                while self.marks and self.marks[0][0] <= now:
                    await self.ws.send_str(self._msg("mark", mark={"name": self.marks.pop(0)[1]}))
            except (ConnectionError, aiohttp.ClientError):
                return
            if self.chunk == self.last_speech_index and self.sent_last_speech is not None:
                self.sent_last_speech.set_result(time.monotonic())
            next_t += FRAME_S
            await asyncio.sleep(max(0.0, next_t - time.monotonic()))

    async def receive(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            now = time.monotonic()
            data = json.loads(msg.data)
            if data.get("streamSid") != self.sid:
                self.errors.append(f"reply with streamSid {data.get('streamSid')!r}")
            event = data.get("event")
            if event == "media":
                n = len(base64.b64decode(data["media"]["payload"]))
                self.media_times.append(now)
                self.play_end = max(now, self.play_end) + n / RATE
            elif event == "mark":
                self.marks.append((max(now, self.play_end), data["mark"]["name"]))
            elif event == "clear":
                self.marks = [(0.0, name) for _, name in self.marks]
                self.play_end = now
        self.closed = True

    def speak(self, pcm: np.ndarray) -> asyncio.Future[float]:
        """Queue a turn; the future resolves when its last speech frame has been sent."""
        ulaw = ulaw_encode(pcm)
        frames = [ulaw[i:i + FRAME].ljust(FRAME, b"\xff") for i in range(0, len(ulaw), FRAME)]
        self.last_speech_index = self.chunk + len(self.out) + last_speech_frame(pcm) + 1
        self.sent_last_speech = asyncio.get_running_loop().create_future()
        self.out.extend(frames)
        return self.sent_last_speech

    def talking(self, quiet_s: float) -> bool:
        now = time.monotonic()
        return self.play_end > now or bool(self.media_times and now - self.media_times[-1] < quiet_s)

    async def until(self, ready, timeout_s: float) -> bool:  # noqa: ANN001
        deadline = time.monotonic() + timeout_s
        while not ready():
            if self.closed or time.monotonic() > deadline:
                return bool(ready())
            await asyncio.sleep(0.01)
        return True


async def run(args: argparse.Namespace) -> tuple[list[float | None], str | None]:
    """Latency per turn in ms (None: no answer) and the reason the call broke off, if it did."""
    turns = [read_turn(Path(p)) for p in args.wav]
    url = args.url + (("&" if "?" in args.url else "?") + f"token={args.token}" if args.token else "")
    latencies: list[float | None] = []
    async with aiohttp.ClientSession() as http, http.ws_connect(url, heartbeat=None) as ws:
        probe = Probe(ws)
        await probe.open()
        tasks = [asyncio.create_task(probe.receive()), asyncio.create_task(probe.pace())]
        try:
            if not args.no_greeting and not await probe.until(lambda: probe.media_times,
                                                              args.greeting_timeout):
                return latencies, "no greeting"
            for i, pcm in enumerate(turns, start=1):
                await probe.until(lambda: not probe.talking(args.quiet_ms / 1000), 120)
                if probe.closed:
                    return latencies, f"TOM hung up before turn {i}"
                await asyncio.sleep(args.pause_ms / 1000)
                sent = await probe.speak(pcm)
                got = await probe.until(lambda s=sent: any(t > s for t in probe.media_times),
                                        args.answer_timeout)
                first = next((t for t in probe.media_times if t > sent), None)
                latencies.append((first - sent) * 1000 if got and first else None)
                print(f"turn {i} ({Path(args.wav[i - 1]).name}): " + (
                    f"{latencies[-1]:.0f} ms" if latencies[-1] is not None else "no answer"))
                if probe.errors:
                    return latencies, f"protocol error: {probe.errors[0]}"
            await probe.until(lambda: not probe.talking(args.quiet_ms / 1000), 120)
        finally:
            if not ws.closed:
                await ws.send_str(probe._msg("stop", stop={"accountSid": "AC" + "0" * 32,
                                                           "callSid": probe.call_sid}))
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return latencies, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="ws(s)://HOST:PORT/twilio/stream")
    parser.add_argument("--token", default="", help="stream token, sent as ?token=")
    parser.add_argument("--target-ms", type=float, default=1000.0,
                        help="p95 caller-side latency that passes (default 1000)")
    parser.add_argument("--greeting-timeout", type=float, default=15.0)
    parser.add_argument("--answer-timeout", type=float, default=20.0)
    parser.add_argument("--quiet-ms", type=int, default=800,
                        help="TOM's reply is over after this long without audio")
    parser.add_argument("--pause-ms", type=int, default=500, help="caller's pause before a turn")
    parser.add_argument("--no-greeting", action="store_true", help="do not wait for a greeting")
    parser.add_argument("wav", nargs="+", help="one WAV per caller turn")
    args = parser.parse_args(argv)
    try:
        latencies, broke = asyncio.run(run(args))
    except (OSError, aiohttp.ClientError, ValueError, wave.Error) as exc:
        print(f"probe failed: {exc}", file=sys.stderr)
        return 2
    done = [v for v in latencies if v is not None]
    if done:
        p50, p95 = percentile(done, 50), percentile(done, 95)
        print(f"e2e p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(done):.0f} ms "
              f"over {len(done)} turn(s); target {args.target_ms:.0f} ms")
    if broke:
        print(f"FAIL: {broke}")
        return 1
    if len(done) < len(args.wav):
        print(f"FAIL: {len(args.wav) - len(done)} turn(s) got no answer")
        return 1
    if percentile(done, 95) > args.target_ms:
        print(f"FAIL: p95 {percentile(done, 95):.0f} ms misses the target of "
              f"{args.target_ms:.0f} ms")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
