"""Talk to TOM without a phone: from a WAV file in real time, or from the laptop microphone."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

import numpy as np

from tom.audio import (
    PHONE_RATE,
    float_to_pcm16,
    frame_bytes,
    pcm16_to_float,
    read_wav,
    resample,
    whole_frames,
    write_wav,
)
from tom.monitor import events as ev
from tom.telephony.bridge import BridgedCall, OutboundSink, pump_outbound
from tom.telephony.pacing import FRAME_S

MIC_RATE = 16000
MIC_BLOCK = frame_bytes(MIC_RATE) // 2  # samples per 20 ms callback
SETTLE_AFTER_S = 1.5  # after the file, hang up once the call is idle this long into the tail


class LocalCall(BridgedCall, Protocol):
    @property
    def idle(self) -> bool:
        """Nothing is happening on the line: the caller is silent, TOM has nothing to say."""
        ...


class LocalHost(Protocol):
    """What `tom talk` uses of the assistant."""

    @property
    def bus(self) -> ev.EventBus: ...

    async def open_call(self, *, transport: str, caller: str = "", call_id: str | None = None,
                        in_rate: int = PHONE_RATE, out_rate: int = PHONE_RATE) -> LocalCall: ...


@dataclass
class TurnReport:
    turn: int
    user: str = ""
    assistant: list[str] = field(default_factory=list)
    interrupted: bool = False
    timings_ms: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"type": "turn", "turn": self.turn, "user": self.user,
                           "assistant": " ".join(self.assistant),
                           "interrupted": self.interrupted, "timings_ms": dict(self.timings_ms)},
                          ensure_ascii=False)

    def to_text(self) -> str:
        timing = "  ".join(f"{k}={v:.0f}ms" for k, v in self.timings_ms.items())
        lines = [f"[turn {self.turn}]"]
        if self.user:
            lines.append(f"  caller: {self.user}")
        reply = " ".join(self.assistant) + (" [interrupted]" if self.interrupted else "")
        lines.append(f"  TOM:    {reply}")
        if timing:
            lines.append(f"  timings: {timing}")
        return "\n".join(lines)


class TurnCollector:
    """Gathers each turn's caller text, TOM's heard reply and timings from the event bus."""

    def __init__(self, call_id: str, emit: Callable[[TurnReport], None]) -> None:
        self.call_id = call_id
        self.turns: dict[int, TurnReport] = {}
        self.emit = emit

    def _report(self, turn: int) -> TurnReport:
        return self.turns.setdefault(turn, TurnReport(turn))

    def __call__(self, event: ev.Event) -> None:
        if event.call_id != self.call_id:
            return
        match event:
            case ev.Transcript(role=ev.Role.CALLER, turn=turn, text=text):
                self._report(turn).user = text
            case ev.Transcript(turn=turn, text=text, interrupted=interrupted):
                report = self._report(turn)
                report.assistant.append(text)
                report.interrupted = report.interrupted or interrupted
                self.emit(report)
            case ev.TurnTimed(turn=turn, timings_ms=timings_ms):
                self._report(turn).timings_ms = timings_ms


class HeardAudio:
    """What the caller hears, laid on a timeline: frames play back to back as they arrive."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.chunks: list[tuple[int, bytes]] = []  # (sample position, pcm)
        self.cursor = 0

    def play(self, pcm: bytes, now_sample: int) -> None:
        self.cursor = max(self.cursor, now_sample)
        self.chunks.append((self.cursor, pcm))
        self.cursor += len(pcm) // 2

    def clear(self, now_sample: int) -> None:
        self.chunks = [(pos, pcm) for pos, pcm in self.chunks if pos < now_sample]
        self.cursor = now_sample

    def render(self, total: int) -> np.ndarray[Any, np.dtype[np.float32]]:
        out = np.zeros(max(total, self.cursor), dtype=np.float32)
        for pos, pcm in self.chunks:
            samples = pcm16_to_float(pcm)
            out[pos:pos + len(samples)] = samples[: len(out) - pos]
        return out


class _LocalSink(OutboundSink):
    """TOM's audio to a local player; no socket, so nothing to mark, abort or close."""

    def __init__(self, play: Callable[[bytes], None], clear: Callable[[], None]) -> None:
        self._play = play
        self._clear = clear

    @property
    def closed(self) -> bool:
        return False

    async def opened(self, call_id: str) -> None:
        pass

    async def send_audio(self, pcm: bytes) -> None:
        self._play(pcm)

    async def send_mark(self, name: str) -> None:
        pass

    async def send_clear(self) -> None:
        self._clear()

    async def hang_up(self, action: str) -> None:
        pass

    async def abort(self, kind: str, message: str) -> None:
        pass

    async def close(self) -> None:
        pass


def _printer(as_json: bool, out: TextIO) -> Callable[[TurnReport], None]:
    def emit(report: TurnReport) -> None:
        print(report.to_json() if as_json else report.to_text(), file=out, flush=True)
    return emit


async def talk_wav(assistant: LocalHost, wav_in: Path, wav_out: Path | None, *,
                   as_json: bool = False, tail_s: float = 8.0,
                   out: TextIO = sys.stdout) -> list[TurnReport]:
    """Play a WAV into a call in real time as a caller would; record what the caller hears."""
    audio, rate = read_wav(wav_in)
    pcm = float_to_pcm16(resample(audio, rate, PHONE_RATE))
    frames = whole_frames(pcm, PHONE_RATE)
    call = await assistant.open_call(transport="local", caller="wav", in_rate=PHONE_RATE,
                                     out_rate=PHONE_RATE)
    collector = TurnCollector(call.id, _printer(as_json, out))
    assistant.bus.listen(collector)
    heard = HeardAudio(PHONE_RATE)
    start = time.monotonic()

    def now_sample() -> int:
        return int((time.monotonic() - start) * PHONE_RATE)

    sink = _LocalSink(lambda pcm: heard.play(pcm, now_sample()),
                      lambda: heard.clear(now_sample()))
    receiver = asyncio.get_running_loop().create_task(pump_outbound(call, sink, 0.0))
    for i, frame in enumerate(frames):
        delay = start + i * FRAME_S - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if call.ended:
            break
        call.feed(frame)
    silence = bytes(frame_bytes(PHONE_RATE))
    tail_start = time.monotonic()
    while not call.ended and time.monotonic() < tail_start + tail_s:  # the line stays open
        call.feed(silence)
        await asyncio.sleep(FRAME_S)
        if call.idle and time.monotonic() > tail_start + SETTLE_AFTER_S:
            break
    if not call.ended:
        await call.end(ev.Outcome.HUNG_UP_BY_CALLER, "end of input file")
    await asyncio.wait_for(receiver, 5)
    if wav_out is not None:
        write_wav(wav_out, heard.render(len(pcm) // 2), PHONE_RATE)
    return [collector.turns[k] for k in sorted(collector.turns)]


async def talk_mic(assistant: LocalHost, *, as_json: bool = False,
                   out: TextIO = sys.stdout) -> None:
    """Full duplex with the default microphone and speaker (sounddevice/PortAudio)."""
    try:
        import sounddevice as sd

        sd.query_devices(kind="input")
        sd.query_devices(kind="output")
    except (OSError, ValueError, ImportError) as exc:
        raise SystemExit(f"tom talk --mic: no usable microphone and speaker ({exc}). "
                         "Connect an audio device or use `tom talk --wav FILE`.") from None
    loop = asyncio.get_running_loop()
    call = await assistant.open_call(transport="local", caller="mic", in_rate=MIC_RATE,
                                     out_rate=MIC_RATE)
    assistant.bus.listen(TurnCollector(call.id, _printer(as_json, out)))
    playback: list[bytes] = []

    def on_input(indata: Any, frames: int, t: Any, status: Any) -> None:
        loop.call_soon_threadsafe(call.feed, bytes(indata))

    def on_output(outdata: Any, frames: int, t: Any, status: Any) -> None:
        need = len(outdata)
        buf = b""
        while playback and len(buf) < need:
            buf += playback.pop(0)
        if len(buf) > need:
            playback.insert(0, buf[need:])
            buf = buf[:need]
        outdata[:] = buf + bytes(need - len(buf))

    sink = _LocalSink(playback.append, playback.clear)
    with sd.RawInputStream(MIC_RATE, blocksize=MIC_BLOCK, channels=1, dtype="int16",
                           callback=on_input), \
            sd.RawOutputStream(MIC_RATE, blocksize=MIC_BLOCK, channels=1, dtype="int16",
                               callback=on_output):
        print("Talking to TOM — press Ctrl+C to hang up.", file=sys.stderr)
        try:
            await pump_outbound(call, sink, 0.0)
        finally:
            if not call.ended:
                await call.end(ev.Outcome.HUNG_UP_BY_CALLER, "caller hung up")
