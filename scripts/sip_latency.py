"""Measure TOM's SIP latency with baresip callers (docs/sip.md).

    PYTHONPATH=. python scripts/sip_latency.py --calls 4 [--parallel 1]
    PYTHONPATH=. python scripts/sip_latency.py --turns 12 [--parallel 1]

Starts a TomServer with [sip] on a free port. Default: `--calls` baresip processes dial it (at
most `--parallel` at once), each silent for 8 s; per call: INVITE → 200 OK and 200 OK → first
greeting frame (TOM's side, from the agent) and the greeting's start in what the caller recorded
(caller's side, from baresip's decoded-audio dump).

`--turns N`: N calls over SIP and N over the Twilio protocol to the same server, one question
each (rotating over a few FAQ questions, the same audio on both transports), taken in turns
(`--parallel` at once, SIP and Twilio batches alternating); per transport the caller-side
latency end of the question → TOM's answer heard: over SIP from baresip's own timeline (what
it played vs what it recorded, so the jitter buffers count), the first recorded sample above
SPEECH_LEVEL; over Twilio the same sample on the caller's playback timeline (`tom bench`'s
e2e, which times the first media frame, plus where in the reply the voice gets that loud).
Needs baresip (Debian baresip-core).

`--turns N --wire`: the SIP calls come from a hand-written caller instead (tests/e2e/sip_raw.py:
RTP sent from a thread at a 20 ms pace, received on a socket) and are timed on the wire as
`tom bench` times a Twilio call: the send time of the packet carrying the question's last
voiced samples → the arrival of TOM's first packet that is not the bridge's silence (all-zero
samples); the Twilio calls by their first media frame.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "e2e")]

from sip_peers import Baresip  # noqa: E402
from sip_raw import RawCaller, rtp_packet, tom_rtp_address  # noqa: E402
from tomtest import e2e_settings, running_server  # noqa: E402

from tom.audio import PHONE_RATE, float_to_pcm16, ulaw_decode, ulaw_encode  # noqa: E402
from tom.bench.caller import CallerTurn, place_call, speech_bounds  # noqa: E402
from tom.bench.line import FRAME_NS, FRAME_SAMPLES  # noqa: E402
from tom.bench.stats import percentile  # noqa: E402
from tom.monitor.events import CallStarted, TurnTimed  # noqa: E402

QUESTIONS = ("Where are you located?", "What are your opening hours?",
             "Do you repair electric bikes?", "How much is a bike service?")
GREETING_S = 9.0  # the caller waits this long (TOM's greeting) before asking
AFTER_S = 9.0  # and listens this long to the answer

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


def spoken(text: str) -> bytes:
    """The question as PCM16 8 kHz, spoken by the bundled piper voice (as the e2e tests do)."""
    from piper import PiperVoice

    from tom.audio import resample
    from tom.config import Settings
    from tom.models import resolve_tts

    voice = PiperVoice.load(str(resolve_tts(Settings.from_dict({})).path))
    audio = np.concatenate([c.audio_float_array for c in voice.synthesize(text)])
    return float_to_pcm16(resample(audio * 0.6, voice.config.sample_rate, PHONE_RATE))


def answer_after_ms(mic: bytes, heard: np.ndarray, rate: int) -> float | None:
    """End of the question in what baresip played → first loud sample of what it recorded
    after that; None when TOM was still talking while the question was asked."""
    start, end = speech_bounds(mic)
    t_start, t_end = start / PHONE_RATE, end / PHONE_RATE
    if np.any(np.abs(heard[int(t_start * rate):int(t_end * rate)]) > SPEECH_LEVEL):
        return None  # overlapped the greeting: not a clean turn
    after = heard[int(t_end * rate):]
    loud = np.flatnonzero(np.abs(after) > SPEECH_LEVEL)
    return round(float(loud[0]) / rate * 1000, 1) if len(loud) else None


async def sip_turn(port: int, workdir: Path, question: bytes) -> float | None:
    silence = float_to_pcm16(np.zeros(int(PHONE_RATE * GREETING_S)))
    mic = silence + question + float_to_pcm16(np.zeros(int(PHONE_RATE * AFTER_S)))
    phone = Baresip(workdir, mic)
    phone.dial(f"sip:tom@127.0.0.1:{port}", max_s=GREETING_S + AFTER_S + 20)
    try:
        run = await phone.finish(GREETING_S + AFTER_S + 30)
    finally:
        phone.kill()
    return answer_after_ms(mic, run.heard, run.rate)


def wire_turn(port: int, question: bytes) -> float | None:
    """One SIP call from the raw caller, timed on the wire (blocking: run it in a thread)."""
    pcm = (float_to_pcm16(np.zeros(int(PHONE_RATE * GREETING_S))) + question
           + float_to_pcm16(np.zeros(int(PHONE_RATE * AFTER_S))))
    start, end = speech_bounds(question)
    first_voiced = (int(PHONE_RATE * GREETING_S) + start) // FRAME_SAMPLES
    last_voiced = (int(PHONE_RATE * GREETING_S) + end - 1) // FRAME_SAMPLES
    ulaw = ulaw_encode(pcm)
    frames = [ulaw[i:i + FRAME_SAMPLES].ljust(FRAME_SAMPLES, b"\xff")
              for i in range(0, len(ulaw), FRAME_SAMPLES)]
    caller = RawCaller(port)
    # (arrival, TOM speaking) of each of TOM's packets: only zero samples is the bridge's silence
    heard: list[tuple[int, bool]] = []
    done = threading.Event()

    def listen() -> None:
        caller.rtp.settimeout(0.2)
        while not done.is_set():
            try:
                data = caller.rtp.recv(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            sounding = bool(np.frombuffer(ulaw_decode(data[12:]), "<i2").any())
            heard.append((time.monotonic_ns(), sounding))

    try:
        answer = caller.call()
        tom = tom_rtp_address(answer.body)
        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        sent_ns = []
        next_ns = time.monotonic_ns()
        for seq, frame in enumerate(frames):
            caller.rtp.sendto(rtp_packet(seq, 0, payload=frame), tom)
            sent_ns.append(time.monotonic_ns())
            next_ns += FRAME_NS
            time.sleep(max(0, next_ns - time.monotonic_ns()) / 1e9)
        caller.hang_up()
        done.set()
        listener.join(2)
    finally:
        done.set()
        caller.close()
    asked, said = sent_ns[first_voiced], sent_ns[last_voiced]
    if any(sounding and asked <= t <= said for t, sounding in heard):
        return None  # TOM was talking while the question was asked: not a clean turn
    answered = next((t for t, sounding in heard if sounding and t > said), None)
    return None if answered is None else round((answered - said) / 1e6, 1)


async def twilio_turn(url: str, question: bytes, text: str, loud: bool) -> float | None:
    """One call over the Twilio protocol: end of the question → TOM's first media frame, or
    (`loud`) its first sample above SPEECH_LEVEL on the caller's playback timeline, which is
    what the baresip caller's recording is timed by."""
    pad = float_to_pcm16(np.zeros(PHONE_RATE // 5))
    result = await place_call(url, [CallerTurn(audio=pad + question + pad, text=text,
                                               id=text[:20])])
    if not result.ok or not result.turns or result.turns[0].e2e_ms is None:
        return None
    turn = result.turns[0]
    if not loud:
        return turn.e2e_ms
    after = heard_after_ms(np.frombuffer(turn.reply_audio, "<i2") / 32768.0, PHONE_RATE)
    return None if after is None else round(turn.e2e_ms + after, 1)


def summary(name: str, values: list[float], asked: int) -> str:
    if not values:
        return f"{name}: no answered turn of {asked}"
    return (f"{name}: p50 {percentile(values, 50):.0f} ms, p95 {percentile(values, 95):.0f} ms,"
            f" max {max(values):.0f} ms ({len(values)} of {asked} turns)")


async def compare_turns(turns: int, parallel: int, wire: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="tom-sip-turns-"))
    questions = [(text, spoken(text)) for text in QUESTIONS]
    settings = e2e_settings(tmp, server={"max_calls": max(4, parallel)},
                            sip={"enabled": True, "port": 0})
    results: dict[str, list[float]] = {"sip": [], "twilio": []}
    inside: dict[str, list[float]] = {"sip": [], "twilio": []}  # TOM's own e2e (TurnTimed)
    transports: dict[str, str] = {}  # call id → transport, from each call's CallStarted
    counting = False

    def timed(event: object) -> None:
        if isinstance(event, CallStarted):
            transports[event.call_id] = event.transport
        elif counting and isinstance(event, TurnTimed) and "e2e" in event.timings_ms:
            inside[transports[event.call_id]].append(event.timings_ms["e2e"])

    async with running_server(settings) as server:
        server.bus.listen(timed)
        # Warm-up, not counted: every question once, so that neither transport is the first
        # to meet an utterance length (Whisper's encoder shapes) or a reply.
        for text, audio in questions:
            await twilio_turn(server.url, audio, text, loud=False)
        counting = True
        for batch in range(0, turns, parallel):
            ids = range(batch, min(turns, batch + parallel))
            for transport in ("sip", "twilio") if batch % 2 == 0 else ("twilio", "sip"):
                if transport == "sip" and wire:
                    got = await asyncio.gather(*(
                        asyncio.to_thread(wire_turn, server.sip.port, questions[i % 4][1])
                        for i in ids))
                elif transport == "sip":
                    got = await asyncio.gather(*(
                        sip_turn(server.sip.port, tmp / f"sip{i}", questions[i % 4][1])
                        for i in ids))
                else:
                    got = await asyncio.gather(*(
                        twilio_turn(server.url, questions[i % 4][1], questions[i % 4][0],
                                    loud=not wire)
                        for i in ids))
                results[transport] += [g for g in got if g is not None]
                print(f"turns {batch + 1}-{ids[-1] + 1} over {transport}: {got}", flush=True)
    how = ("first frame on the wire" if wire
           else f"first sample above {SPEECH_LEVEL:g} of full scale heard")
    print(f"caller-side end of question → TOM's answer ({how}), {parallel} call(s) at once:")
    for transport, values in results.items():
        print("  " + summary(transport, values, turns))
    print("TOM's own end of speech (arrival) → first frame out, same turns:")
    for transport, values in inside.items():
        print("  " + summary(transport, values, turns))
    if results["sip"] and results["twilio"]:
        gap = percentile(results["sip"], 50) - percentile(results["twilio"], 50)
        print(f"  SIP − Twilio, p50: {gap:+.0f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=4)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--turns", type=int, default=0,
                        help="compare caller-side turn latency over SIP and Twilio")
    parser.add_argument("--wire", action="store_true",
                        help="with --turns: time SIP on the wire (raw caller), not in baresip")
    args = parser.parse_args()
    if args.turns:
        return await compare_turns(args.turns, args.parallel, args.wire)
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
