"""Talk to TOM without a phone: from a WAV file in real time, or from the laptop microphone."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tom.audio import FrameSplitter, float_to_pcm16, pcm16_to_float, read_wav, resample, write_wav
from tom.engine.playback import AudioOut, ClearOut, EndOut
from tom.monitor import events as ev

PHONE_RATE = 8000
FRAME_S = 0.02


@dataclass
class TurnReport:
    turn: int
    user: str = ""
    assistant: list[str] = field(default_factory=list)
    interrupted: bool = False
    timings_ms: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"type": "turn", "turn": self.turn, "user": self.user,
                           "assistant": " ".join(self.assistant),
                           "interrupted": self.interrupted, "timings_ms": self.timings_ms},
                          ensure_ascii=False)

    def to_text(self) -> str:
        t = self.timings_ms
        timing = "  ".join(f"{k}={v:.0f}ms" for k, v in t.items())
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

    def __init__(self, call_id: str, emit) -> None:
        self.call_id = call_id
        self.turns: dict[int, TurnReport] = {}
        self.emit = emit

    def __call__(self, event: ev.Event) -> None:
        if event.call_id != self.call_id:
            return
        d = event.data
        if event.type == ev.TRANSCRIPT:
            report = self.turns.setdefault(d["turn"], TurnReport(d["turn"]))
            if d["role"] == "caller":
                report.user = d["text"]
            else:
                report.assistant.append(d["text"])
                report.interrupted = report.interrupted or d["interrupted"]
                self.emit(report)
        elif event.type == ev.TURN:
            self.turns.setdefault(d["turn"], TurnReport(d["turn"])).timings_ms = d["timings_ms"]


class PhoneLine:
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

    def render(self, total: int) -> np.ndarray:
        out = np.zeros(max(total, self.cursor), dtype=np.float32)
        for pos, pcm in self.chunks:
            samples = pcm16_to_float(pcm)
            out[pos:pos + len(samples)] = samples[: len(out) - pos]
        return out


async def talk_wav(assistant, wav_in: Path, wav_out: Path | None, *, as_json: bool = False,
                   tail_s: float = 8.0, out=sys.stdout) -> list[TurnReport]:
    """Play a WAV into a call in real time as a caller would; record what the caller hears."""
    audio, rate = read_wav(wav_in)
    pcm = float_to_pcm16(resample(audio, rate, PHONE_RATE))
    frames = FrameSplitter(PHONE_RATE).push(pcm)

    def emit(report: TurnReport) -> None:
        print(report.to_json() if as_json else report.to_text(), file=out, flush=True)

    call = await assistant.open_call(transport="local", caller="wav", in_rate=PHONE_RATE,
                                     out_rate=PHONE_RATE)
    collector = TurnCollector(call.id, emit)
    assistant.bus.listen(collector)
    line = PhoneLine(PHONE_RATE)
    start = time.monotonic()

    def now_sample() -> int:
        return int((time.monotonic() - start) * PHONE_RATE)

    async def receive() -> None:
        async for item in call.outbound():
            if isinstance(item, AudioOut):
                line.play(item.pcm, now_sample())
            elif isinstance(item, ClearOut):
                line.clear(now_sample())
            elif isinstance(item, EndOut):
                return

    receiver = asyncio.get_running_loop().create_task(receive())
    for i, frame in enumerate(frames):
        delay = start + i * FRAME_S - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if call.ended:
            break
        call.feed(frame)
    silence = bytes(len(frames[0])) if frames else bytes(320)
    deadline = time.monotonic() + tail_s
    while not call.ended and time.monotonic() < deadline:  # the line stays open, silent
        call.feed(silence)
        await asyncio.sleep(FRAME_S)
        if _settled(call) and time.monotonic() > deadline - tail_s + 1.5:
            break
    if not call.ended:
        await call.end("hung_up_by_caller", "end of input file")
    await asyncio.wait_for(receiver, 5)
    if wav_out is not None:
        write_wav(wav_out, line.render(len(pcm) // 2), PHONE_RATE)
    return [collector.turns[k] for k in sorted(collector.turns)]


def _settled(call) -> bool:
    return call.idle


async def talk_mic(assistant, *, as_json: bool = False, out=sys.stdout) -> None:
    """Full duplex with the default microphone and speaker (sounddevice/PortAudio)."""
    try:
        import sounddevice as sd

        sd.query_devices(kind="input")
        sd.query_devices(kind="output")
    except (OSError, ValueError, ImportError) as exc:
        raise SystemExit(f"tom talk --mic: no usable microphone and speaker ({exc}). "
                         "Connect an audio device or use `tom talk --wav FILE`.") from None
    rate = 16000
    loop = asyncio.get_running_loop()
    call = await assistant.open_call(transport="local", caller="mic", in_rate=rate, out_rate=rate)
    assistant.bus.listen(TurnCollector(
        call.id, lambda r: print(r.to_json() if as_json else r.to_text(), file=out, flush=True)))
    playback: list[bytes] = []

    def on_input(indata, frames, t, status) -> None:
        loop.call_soon_threadsafe(call.feed, bytes(indata))

    def on_output(outdata, frames, t, status) -> None:
        need = len(outdata)
        buf = b""
        while playback and len(buf) < need:
            buf += playback.pop(0)
        if len(buf) > need:
            playback.insert(0, buf[need:])
            buf = buf[:need]
        outdata[:] = buf + bytes(need - len(buf))

    with sd.RawInputStream(rate, blocksize=320, channels=1, dtype="int16", callback=on_input), \
            sd.RawOutputStream(rate, blocksize=320, channels=1, dtype="int16",
                               callback=on_output):
        print("Talking to TOM — press Ctrl+C to hang up.", file=sys.stderr)
        try:
            async for item in call.outbound():
                if isinstance(item, AudioOut):
                    playback.append(item.pcm)
                elif isinstance(item, ClearOut):
                    playback.clear()
                elif isinstance(item, EndOut):
                    break
        finally:
            if not call.ended:
                await call.end("hung_up_by_caller", "caller hung up")
