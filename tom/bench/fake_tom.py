"""A stand-in for TOM that speaks the Twilio Media Streams protocol and nothing else.

It greets, notices the caller's speech by frame energy, and answers each turn with a tone
after a fixed number of silent frames; misbehaving modes close mid-call, never answer or
break the protocol. Tests of the caller, the bench and the probe use it instead of models.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from tom.audio import float_to_pcm16, rms_dbfs, ulaw_decode, ulaw_encode
from tom.telephony import twilio_wire as wire

MODES = ("ok", "close_after_first_turn", "never_answer", "no_greeting", "bad_stream_sid")


def tone_frames(n: int, hz: float = 440.0) -> list[bytes]:
    """n frames (20 ms, μ-law 8 kHz) of a tone: audible, clearly not silence."""
    t = np.arange(n * 160) / 8000.0
    ulaw = ulaw_encode(float_to_pcm16(0.3 * np.sin(2 * np.pi * hz * t)))
    return [ulaw[i:i + 160] for i in range(0, len(ulaw), 160)]


@dataclass
class FakeTom:
    """Configure, then `app()` or `await start()`; `log` keeps what each call sent, in order."""

    mode: str = "ok"
    greeting_frames: int = 25
    reply_frames: int = 25
    reply_after_silent_frames: int = 10  # answer once this many silent frames follow speech
    barge_in: bool = True  # send `clear` when the caller speaks over the reply
    delay_per_call_ms: int = 0  # extra answer delay per open call: a TOM that slows with load
    speech_dbfs: float = -40.0
    log: list[tuple[str, int, str]] = field(default_factory=list)  # (event, t_ns, detail)
    starts: list[dict[str, Any]] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)  # ?token= of each connection
    open_calls: int = 0
    _runner: web.AppRunner | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"FakeTom mode {self.mode!r} is not one of {', '.join(MODES)}")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/twilio/stream", self.stream)
        return app

    async def start(self) -> str:
        """Serve on a free loopback port; returns the ws:// stream URL."""
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        return f"ws://127.0.0.1:{port}/twilio/stream"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def stream(self, request: web.Request) -> web.WebSocketResponse:
        self.tokens.append(request.query.get("token", ""))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        call = _FakeCall(self, ws)
        self.open_calls += 1
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT or not await call.on_message(json.loads(msg.data)):
                    break
        finally:
            self.open_calls -= 1
        await ws.close()
        return ws


@dataclass
class _FakeCall:
    tom: FakeTom
    ws: web.WebSocketResponse
    sid: str = ""
    in_speech: bool = False
    silent_run: int = 0
    turns_heard: int = 0
    talking_until: int = 0
    marks: int = 0

    async def on_message(self, data: dict[str, Any]) -> bool:
        """Handle one caller message; False ends the call."""
        event, now = data.get("event"), time.monotonic_ns()
        if event == "start":
            self.tom.starts.append(data["start"])
            self.sid = data["start"]["streamSid"]
            self.tom.log.append(("start", now, ""))
            if self.tom.mode != "no_greeting":
                await self.say(self.tom.greeting_frames)
        elif event == "media":
            return await self.on_media(base64.b64decode(data["media"]["payload"]), now)
        elif event == "mark":
            self.tom.log.append(("mark_echo", now, data["mark"]["name"]))
        elif event == "stop":
            self.tom.log.append(("stop", now, ""))
            return False
        return True

    async def on_media(self, ulaw: bytes, now: int) -> bool:
        voiced = rms_dbfs(ulaw_decode(ulaw)) > self.tom.speech_dbfs
        self.tom.log.append(("media", now, "voiced" if voiced else "silent"))
        if voiced:
            if not self.in_speech and now < self.talking_until and self.tom.barge_in:
                await self.ws.send_str(wire.clear_message(self.sid))
                self.tom.log.append(("clear", time.monotonic_ns(), ""))
                self.talking_until = now
            self.in_speech, self.silent_run = True, 0
            return True
        if not self.in_speech:
            return True
        self.silent_run += 1
        if self.silent_run < self.tom.reply_after_silent_frames:
            return True
        self.in_speech = False
        self.turns_heard += 1
        if self.tom.mode == "close_after_first_turn":
            return False
        if self.tom.mode != "never_answer":
            if self.tom.delay_per_call_ms:
                await asyncio.sleep(self.tom.delay_per_call_ms * self.tom.open_calls / 1000)
            await self.say(self.tom.reply_frames)
        return True

    async def say(self, frames: int) -> None:
        sid = "MZwrong" if self.tom.mode == "bad_stream_sid" else self.sid
        now = time.monotonic_ns()
        for frame in tone_frames(frames):
            await self.ws.send_str(wire.media_message(sid, frame))
        self.marks += 1
        name = f"reply-{self.marks}"
        await self.ws.send_str(wire.mark_message(sid, name))
        self.tom.log.append(("reply", now, name))
        self.talking_until = max(now, self.talking_until) + frames * 20_000_000
