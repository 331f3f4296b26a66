"""The caller's end of a Twilio Media Stream: what a real phone line does, timed to the frame.

It sends 20 ms μ-law frames at real-time pace (silence when nobody speaks), records every
message TOM sends with a monotonic timestamp, and plays TOM's audio into a simulated buffer so
each `mark` is echoed when playback reaches it and all pending marks come back on `clear`,
as Twilio does.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
import numpy as np
import structlog

from tom.audio import PHONE_RATE, ulaw_decode, ulaw_encode
from tom.bench import twilio_caller
from tom.telephony.twilio_wire import ProtocolError

log = structlog.get_logger(__name__)

RATE = PHONE_RATE
FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FRAME_NS = 20_000_000
SILENCE = b"\xff" * FRAME_SAMPLES  # μ-law zero
MAX_LAG_NS = 1_000_000_000  # behind by more than this: resync instead of bursting


@dataclass(frozen=True, slots=True)
class Received:
    """One message from TOM: kind is media, mark or clear; samples for media, name for mark."""

    kind: str
    t_ns: int
    name: str = ""
    samples: int = 0


@dataclass(frozen=True)
class LineEcho:
    """TOM's own voice coming back on the line: `loss_db` below it, `delay_ms` after it played."""

    loss_db: float
    delay_ms: int

    @classmethod
    def parse(cls, text: str) -> LineEcho:
        """`echo:-25dB@120ms` (or `-25dB@120ms`): 25 dB below TOM's level, 120 ms late."""
        spec = text.strip().lower().removeprefix("echo:")
        try:
            level, delay = spec.split("@")
            loss = abs(float(level.removesuffix("db")))
            delay_ms = int(delay.removesuffix("ms"))
        except ValueError:
            raise ValueError(f"line echo {text!r}: expected echo:-25dB@120ms") from None
        if not 0 <= delay_ms <= 2000:
            raise ValueError(f"line echo {text!r}: the delay must be 0-2000 ms")
        return cls(loss, delay_ms)

    def __str__(self) -> str:
        return f"echo:-{self.loss_db:g}dB@{self.delay_ms}ms"


ECHO_RING = RATE * 8  # 8 s of far-end playout kept for the echo


@dataclass
class FarEnd:
    """What the far end played, sample by sample on the wall clock, so its echo can be sent."""

    echo: LineEcho
    samples: np.ndarray = field(default_factory=lambda: np.zeros(ECHO_RING, np.float32))
    stamps: np.ndarray = field(default_factory=lambda: np.full(ECHO_RING, -1, np.int64))

    @staticmethod
    def index(t_ns: int) -> int:
        return t_ns * RATE // 1_000_000_000

    def play(self, pcm: bytes, start_ns: int) -> None:
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
        idx = self.index(start_ns) + np.arange(len(audio))
        self.samples[idx % ECHO_RING] = audio
        self.stamps[idx % ECHO_RING] = idx

    def clear(self, now_ns: int) -> None:
        """Playback stopped now: what was buffered for later is never heard (nor echoed)."""
        future = self.stamps > self.index(now_ns)
        self.stamps[future] = -1

    def mix(self, ulaw: bytes, now_ns: int) -> bytes:
        """The caller's frame ending now with the echo of what played `delay_ms` before."""
        end = self.index(now_ns - self.echo.delay_ms * 1_000_000)
        idx = np.arange(end - FRAME_SAMPLES, end)
        valid = self.stamps[idx % ECHO_RING] == idx
        if not valid.any():
            return ulaw
        echo = np.where(valid, self.samples[idx % ECHO_RING], 0.0) * 10 ** (-self.echo.loss_db / 20)
        caller = np.frombuffer(ulaw_decode(ulaw), dtype="<i2").astype(np.float32)
        mixed = np.clip(caller + echo, -32768, 32767).astype("<i2")
        return ulaw_encode(mixed.tobytes())


@dataclass
class Utterance:
    """Frames to send, and the moments its speech started and ended on the wire (and, with
    `mark_frame`, when that frame went out: where a hesitation begins)."""

    frames: list[bytes]
    speech_first: int
    speech_last: int
    started: asyncio.Future[int]
    ended: asyncio.Future[int]
    done: asyncio.Future[None]
    pos: int = 0
    mark_frame: int | None = None
    marked: int | None = None


@dataclass
class PhoneLine:
    """Owns one websocket: a paced sender, a receiver and the playback model between them."""

    ws: aiohttp.ClientWebSocketResponse
    stream_sid: str
    received: list[Received] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)
    media_times: list[int] = field(default_factory=list)
    media_offsets: list[int] = field(default_factory=list)  # sample index in `audio` per frame
    clear_times: list[int] = field(default_factory=list)
    protocol_errors: list[str] = field(default_factory=list)
    marks_echoed: int = 0
    closed_at: int | None = None
    playback_end_ns: int = 0
    far_end: FarEnd | None = None  # set: TOM's audio echoes back into what the caller sends
    _queue: deque[Utterance] = field(default_factory=deque)
    _pending_marks: list[tuple[int, str]] = field(default_factory=list)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _seq: int = 1
    _chunk: int = 0

    # --- sending ---------------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def speak(self, pcm: bytes, speech_start: int, speech_end: int,
              mark: int | None = None) -> Utterance:
        """Queue PCM16 8 kHz audio; speech_start/end are sample indices of the voiced part;
        `mark`, a sample index whose sending time `Utterance.marked` records."""
        ulaw = ulaw_encode(pcm)
        frames = [ulaw[i:i + FRAME_SAMPLES].ljust(FRAME_SAMPLES, b"\xff")
                  for i in range(0, len(ulaw), FRAME_SAMPLES)] or [SILENCE]
        last = len(frames) - 1
        loop = asyncio.get_running_loop()
        utt = Utterance(frames, min(speech_start // FRAME_SAMPLES, last),
                         min(max(speech_end - 1, 0) // FRAME_SAMPLES, last),
                         loop.create_future(), loop.create_future(), loop.create_future(),
                         mark_frame=None if mark is None else min(mark // FRAME_SAMPLES, last))
        self._queue.append(utt)
        return utt

    async def pace(self) -> None:
        """Send one frame every 20 ms until cancelled; echo marks whose audio has played."""
        next_ns = time.monotonic_ns()
        while not self.ws.closed:
            try:
                await self._send_frame()
                await self._echo_due_marks()
            except (ConnectionError, aiohttp.ClientError):
                return  # TOM hung up; the receiver notices and records it
            next_ns += FRAME_NS
            now = time.monotonic_ns()
            if now - next_ns > MAX_LAG_NS:
                log.warning("bench_caller_lagging", behind_ms=(now - next_ns) // 1_000_000)
                next_ns = now
            await asyncio.sleep(max(0, next_ns - now) / 1e9)

    async def _send_frame(self) -> None:
        utt = self._queue[0] if self._queue else None
        frame = utt.frames[utt.pos] if utt else SILENCE
        if self.far_end is not None:
            frame = self.far_end.mix(frame, time.monotonic_ns())
        self._chunk += 1
        await self.ws.send_str(twilio_caller.inbound_media_message(
            self.stream_sid, frame, self._chunk, (self._chunk - 1) * 20, sequence=self._next_seq()))
        if utt is None:
            return
        now = time.monotonic_ns()
        if utt.pos == utt.speech_first:
            utt.started.set_result(now)
        if utt.pos == utt.speech_last:
            utt.ended.set_result(now)
        if utt.pos == utt.mark_frame:
            utt.marked = now
        utt.pos += 1
        if utt.pos == len(utt.frames):
            self._queue.popleft()
            utt.done.set_result(None)

    async def _echo_due_marks(self) -> None:
        now = time.monotonic_ns()
        while self._pending_marks and self._pending_marks[0][0] <= now:
            _, name = self._pending_marks.pop(0)
            await self.ws.send_str(twilio_caller.mark_echo_message(
                self.stream_sid, name, sequence=self._next_seq()))
            self.marks_echoed += 1

    async def send_text(self, text: str) -> None:
        await self.ws.send_str(text)

    async def send_stop(self, call_sid: str) -> None:
        if not self.ws.closed:
            await self.ws.send_str(twilio_caller.stop_message(
                self.stream_sid, call_sid, sequence=self._next_seq()))

    # --- receiving -------------------------------------------------------------------------------

    async def receive(self) -> None:
        """Read TOM's messages until the socket closes; never raises for TOM's mistakes."""
        try:
            async for msg in self.ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self._on_text(msg.data)
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    self.protocol_errors.append("TOM sent a binary websocket frame")
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    self.protocol_errors.append(f"websocket error: {self.ws.exception()}")
        finally:
            self.closed_at = time.monotonic_ns()
            self._wake.set()

    def _on_text(self, text: str) -> None:
        now = time.monotonic_ns()
        try:
            msg = twilio_caller.parse_outbound(text)
        except ProtocolError as exc:
            self.protocol_errors.append(str(exc))
            self._wake.set()
            return
        if msg["stream_sid"] != self.stream_sid:
            self.protocol_errors.append(
                f"TOM sent streamSid {msg['stream_sid']!r}, expected {self.stream_sid!r}")
        if msg["event"] == "media":
            self._on_media(now, msg["payload"])
        elif msg["event"] == "mark":
            self.received.append(Received("mark", now, name=msg["name"]))
            self._pending_marks.append((max(now, self.playback_end_ns), msg["name"]))
        else:
            self.received.append(Received("clear", now))
            self.clear_times.append(now)
            if self.far_end is not None:
                self.far_end.clear(now)
            self._pending_marks = [(0, name) for _, name in self._pending_marks]
            self.playback_end_ns = now
        self._wake.set()

    def _on_media(self, now: int, ulaw: bytes) -> None:
        self.received.append(Received("media", now, samples=len(ulaw)))
        self.media_times.append(now)
        self.media_offsets.append(len(self.audio) // 2)
        pcm = ulaw_decode(ulaw)
        self.audio += pcm
        starts = max(now, self.playback_end_ns)
        if self.far_end is not None:
            self.far_end.play(pcm, starts)
        self.playback_end_ns = starts + len(ulaw) * 1_000_000_000 // RATE

    # --- waiting ---------------------------------------------------------------------------------

    async def wait_for(self, ready: Callable[[], bool], timeout_s: float) -> bool:
        """Wait until `ready()` is true or the time is up or the line closed; returns ready()."""
        deadline = time.monotonic() + timeout_s
        while not ready():
            left = deadline - time.monotonic()
            if left <= 0 or self.closed_at is not None or self.protocol_errors:
                return bool(ready())
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), min(left, 0.02))
            except TimeoutError:
                pass
        return True

    def first_media_after(self, t_ns: int) -> int | None:
        i = bisect.bisect_right(self.media_times, t_ns)
        return self.media_times[i] if i < len(self.media_times) else None

    def audio_between(self, start_ns: int, end_ns: int | None = None) -> bytes:
        """PCM16 8 kHz of TOM's media frames received in [start_ns, end_ns)."""
        i = bisect.bisect_left(self.media_times, start_ns)
        j = len(self.media_times) if end_ns is None else bisect.bisect_left(self.media_times, end_ns)
        if i >= j:
            return b""
        stop = self.media_offsets[j] if j < len(self.media_offsets) else len(self.audio) // 2
        return bytes(self.audio[2 * self.media_offsets[i]:2 * stop])

    def first_clear_after(self, t_ns: int) -> int | None:
        i = bisect.bisect_left(self.clear_times, t_ns)
        return self.clear_times[i] if i < len(self.clear_times) else None

    def is_talking(self, quiet_ns: int) -> bool:
        """TOM is still speaking: audio is buffered, a mark is not yet echoed, or audio
        arrived within the quiet window."""
        now = time.monotonic_ns()
        last = self.media_times[-1] if self.media_times else None
        return (self.playback_end_ns > now or bool(self._pending_marks)
                or (last is not None and now - last < quiet_ns))
