"""A scripted phone caller over Twilio Media Streams, measuring TOM from the caller's ear.

`place_call` dials TOM's websocket, waits for the greeting, speaks each turn at real-time pace
and times: last speech frame sent → first reply frame received (e2e), and for barge-in turns
speech start → `clear` received. A call that goes wrong returns with `failure` set; it never
raises, so one bad call cannot end a bench run.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import numpy as np
import structlog

from tom.audio import PHONE_RATE
from tom.bench import twilio_caller
from tom.bench.line import FarEnd, LineEcho, PhoneLine, Received, Utterance

log = structlog.get_logger(__name__)

STREAM_PATH = "/twilio/stream"
REPLY_OVER_S = 1.0  # TOM quiet this long at a barge-in's or backchannel's moment: its reply is over
BACKCHANNEL_RESUME_S = 2.5  # after a backchannel, TOM's audio is awaited this long
# A reply that reaches the caller this soon after a hesitation is over counts as decided in
# it: the latest such decision comes as the caller goes on, and the server takes ~0.3-0.7 s
# from an end of turn to its first reply audio (`tom bench`, e2e at the server). Generous on
# purpose: an end at the next pause could only just come this soon (a word, 256 ms, a reply).
HESITATION_REPLY_NS = 750_000_000


@dataclass(frozen=True, slots=True)
class CallerTurn:
    """One thing the caller says: PCM16 LE mono 8 kHz audio plus what the script expects.

    speech_start/speech_end are sample indices of the voiced part (found by energy if None);
    barge_in starts the turn `barge_in_after_ms` after TOM's previous reply began, while TOM
    is still talking; may_end_call lets TOM hang up after it (goodbye, transfer). A
    backchannel ("okay" while TOM talks) is said `barge_in_after_ms` into TOM's reply, only
    while TOM is audibly talking; it expects no answer and is no turn of the script.
    """

    audio: bytes
    text: str = ""
    id: str = ""
    language: str = "en"
    intent: str = ""
    barge_in: bool = False
    barge_in_after_ms: int = 700
    pause_ms: int = 500
    expect_reply: bool = True
    may_end_call: bool = False
    speech_start: int | None = None
    speech_end: int | None = None
    backchannel: bool = False
    pause_at: int | None = None  # sample index where a `--pauses` hesitation begins
    pause_len_ms: int = 0  # and how long it lasts

    @property
    def paused(self) -> bool:
        """A `--pauses` hesitation inside the voiced part."""
        return self.pause_at is not None


def decided_in_pause(reply_ns: int, pause_ns: int, pause_ms: int) -> bool:
    """Did TOM's reply, reaching the caller at `reply_ns`, answer a hesitation that began at
    `pause_ns` and lasted `pause_ms` (it began in it, or so soon after that it was decided
    there)? A reply before the hesitation, or later, ended the turn at another pause."""
    resumed = pause_ns + pause_ms * 1_000_000
    return pause_ns <= reply_ns <= resumed + HESITATION_REPLY_NS


@dataclass(slots=True)
class BackchannelResult:
    """One backchannel: whether it was said (TOM was still talking), and when.

    before_turn: how many scripted turns the caller had said before it (the index of the
    next one in `CallResult.turns`).
    """

    id: str
    text: str
    at_ms: int
    before_turn: int
    played: bool = False
    speech_start_ns: int | None = None
    speech_end_ns: int | None = None


@dataclass(slots=True)
class TurnResult:
    """What the caller measured for one turn; times are time.monotonic_ns()."""

    id: str
    text: str
    speech_start_ns: int | None = None
    speech_end_ns: int | None = None
    reply_start_ns: int | None = None
    clear_ns: int | None = None
    barged: bool = False
    overlapped: bool = False
    paused: bool = False  # the caller stopped to think inside it (`--pauses`)
    # ... and TOM's reply began in that hesitation or within HESITATION_REPLY_NS after it:
    # TOM took the hesitation for the end of the turn (`overlapped` also counts a reply that
    # began at another pause of the turn, a sentence break or a comma)
    ended_at_pause: bool = False
    reply_audio: bytes = field(default=b"", repr=False)

    @property
    def e2e_ms(self) -> float | None:
        """Last caller speech frame sent → first reply frame received."""
        if self.reply_start_ns is None or self.speech_end_ns is None:
            return None
        return (self.reply_start_ns - self.speech_end_ns) / 1e6

    @property
    def barge_in_ms(self) -> float | None:
        """Caller speech start → `clear` received, for turns that interrupted TOM."""
        if not self.barged or self.clear_ns is None or self.speech_start_ns is None:
            return None
        return (self.clear_ns - self.speech_start_ns) / 1e6

    @property
    def answered(self) -> bool:
        return self.reply_start_ns is not None


@dataclass(slots=True)
class CallResult:
    """Everything one call produced; `failure` is None for a call that went as scripted."""

    call_sid: str
    stream_sid: str
    failure: str | None = None
    started_ns: int = 0
    started_wall: float = 0.0  # time.time() at started_ns: TOM's records carry Unix times
    ended_ns: int = 0
    greeting_ns: int | None = None
    turns: list[TurnResult] = field(default_factory=list)
    backchannels: list[BackchannelResult] = field(default_factory=list)
    received: list[Received] = field(default_factory=list, repr=False)
    audio: bytes = field(default=b"", repr=False)
    protocol_errors: list[str] = field(default_factory=list)
    marks_echoed: int = 0
    closed_by: str = "caller"

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def greeting_ms(self) -> float | None:
        """`start` sent → first greeting frame received."""
        return None if self.greeting_ns is None else (self.greeting_ns - self.started_ns) / 1e6

    @property
    def duration_s(self) -> float:
        return max(0, self.ended_ns - self.started_ns) / 1e9

    def wall(self, t_ns: int) -> float:
        """A monotonic time of this call as Unix time (what TOM's transcript lines carry)."""
        return self.started_wall + (t_ns - self.started_ns) / 1e9

    @property
    def clears(self) -> int:
        return sum(1 for r in self.received if r.kind == "clear")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long the caller waits before calling a call failed."""

    connect_s: float = 10.0
    greeting_s: float = 15.0
    answer_s: float = 20.0
    barge_in_s: float = 3.0
    reply_quiet_ms: int = 800
    max_reply_s: float = 60.0


def stream_url(url: str) -> str:
    """Accept ws(s)://host/twilio/stream or TOM's http(s)://host base and give the stream URL."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path if parts.path not in ("", "/") else STREAM_PATH
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


def speech_bounds(pcm: bytes, rate: int = PHONE_RATE, floor_dbfs: float = -50.0,
                  below_peak_db: float = 35.0) -> tuple[int, int]:
    """Sample range [start, end) of the voiced part of PCM16, by 20 ms frame energy."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
    frame = rate // 50
    n = len(x) // frame
    if n == 0:
        return 0, len(x)
    rms = np.sqrt(np.mean(x[:n * frame].reshape(n, frame) ** 2, axis=1))
    db = 20 * np.log10(np.maximum(rms, 1e-9))
    voiced = np.flatnonzero(db > max(floor_dbfs, db.max() - below_peak_db))
    if not voiced.size:
        return 0, len(x)
    return int(voiced[0]) * frame, min(len(x), (int(voiced[-1]) + 1) * frame)


def new_sid(prefix: str) -> str:
    """A Twilio-shaped id: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


class _CallFailed(Exception):
    """The call went wrong; the message is the failure a person reads."""


class _CallEnded(Exception):
    """TOM hung up where the script allows it (after a goodbye or a transfer)."""


async def place_call(url: str, turns: list[CallerTurn], *, token: str = "",
                     caller: str = "+15550100", call_sid: str | None = None,
                     expect_greeting: bool = True, timeouts: Timeouts | None = None,
                     session: aiohttp.ClientSession | None = None,
                     echo: LineEcho | None = None) -> CallResult:
    """Call TOM over the Twilio protocol, play `turns` and report what the caller measured.

    `echo`: the line sends TOM's own voice back, that much quieter and later.
    """
    t = timeouts or Timeouts()
    result = CallResult(call_sid or new_sid("CA"), new_sid("MZ"))
    own = session is None
    http = session or aiohttp.ClientSession()
    params = {"token": token} if token else None
    try:
        async with http.ws_connect(stream_url(url), params=params, heartbeat=None,
                                   timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
                                   max_msg_size=4 * 1024 * 1024) as ws:
            await asyncio.wait_for(_run_call(ws, result, turns, caller, expect_greeting, t,
                                             echo),
                                   _call_budget(turns, t))
    except _CallFailed as exc:
        result.failure = str(exc)
    except TimeoutError:
        result.failure = result.failure or "call took longer than its whole time budget"
    except (aiohttp.ClientError, OSError) as exc:
        result.failure = f"could not reach TOM at {stream_url(url)}: {exc}"
    finally:
        result.ended_ns = time.monotonic_ns()
        if own:
            await http.close()
    if result.failure:
        log.warning("bench_call_failed", call_sid=result.call_sid, failure=result.failure)
    return result


def _call_budget(turns: list[CallerTurn], t: Timeouts) -> float:
    speech = sum(len(turn.audio) / 2 / PHONE_RATE + turn.pause_ms / 1000 for turn in turns)
    return t.greeting_s + t.max_reply_s + speech + len(turns) * (t.answer_s + t.max_reply_s)


async def _run_call(ws: aiohttp.ClientWebSocketResponse, result: CallResult,
                    turns: list[CallerTurn], caller: str, expect_greeting: bool,
                    t: Timeouts, echo: LineEcho | None = None) -> None:
    line = PhoneLine(ws, result.stream_sid, far_end=FarEnd(echo) if echo else None)
    receiver = asyncio.create_task(line.receive())
    pacer: asyncio.Task[None] | None = None
    try:
        await line.send_text(twilio_caller.connected_message())
        await line.send_text(twilio_caller.start_message(
            result.stream_sid, result.call_sid, {"caller": caller}, sequence=1))
        result.started_ns, result.started_wall = time.monotonic_ns(), time.time()
        pacer = asyncio.create_task(line.pace())
        try:
            await _Script(line, result, turns, t).run(expect_greeting)
        finally:
            if line.closed_at is not None:
                result.closed_by = "tom"
            else:
                with contextlib.suppress(ConnectionError, aiohttp.ClientError):
                    await line.send_stop(result.call_sid)
    finally:
        await _hang_up(ws, line, receiver, pacer)
        result.received = line.received
        result.audio = bytes(line.audio)
        result.protocol_errors = line.protocol_errors
        result.marks_echoed = line.marks_echoed
        _attach_reply_audio(result, line)
        if line.protocol_errors and not result.failure:
            result.failure = f"protocol error: {line.protocol_errors[0]}"


async def _hang_up(ws: aiohttp.ClientWebSocketResponse, line: PhoneLine,
                   receiver: asyncio.Task[None], pacer: asyncio.Task[None] | None) -> None:
    if pacer:
        pacer.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, aiohttp.ClientError):
            await pacer
    if line.closed_at is None:
        with contextlib.suppress(ConnectionError, aiohttp.ClientError):
            await ws.close()
    try:
        await asyncio.wait_for(receiver, 3.0)
    except (TimeoutError, asyncio.CancelledError, ConnectionError, aiohttp.ClientError):
        pass


def _attach_reply_audio(result: CallResult, line: PhoneLine) -> None:
    """Each turn's reply audio: what arrived from its first reply frame to the next turn."""
    for i, turn in enumerate(result.turns):
        if turn.reply_start_ns is None:
            continue
        nxt = result.turns[i + 1].speech_start_ns if i + 1 < len(result.turns) else None
        turn.reply_audio = line.audio_between(turn.reply_start_ns, nxt)


@dataclass
class _Script:
    """Walks the turns: greeting, then speak / wait for reply / wait for quiet, per turn."""

    line: PhoneLine
    result: CallResult
    turns: list[CallerTurn]
    t: Timeouts

    @property
    def quiet_ns(self) -> int:
        return self.t.reply_quiet_ms * 1_000_000

    def _check_line(self, during: str) -> None:
        if self.line.protocol_errors:
            raise _CallFailed(f"protocol error {during}: {self.line.protocol_errors[0]}")
        if self.line.closed_at is not None:
            self.result.closed_by = "tom"
            raise _CallFailed(f"TOM closed the connection {during}")

    async def run(self, expect_greeting: bool) -> None:
        reply_start = None
        if expect_greeting:
            got = await self.line.wait_for(lambda: bool(self.line.media_times), self.t.greeting_s)
            self._check_line("before greeting")
            if not got:
                raise _CallFailed(f"no greeting within {self.t.greeting_s:g} s")
            reply_start = self.result.greeting_ns = self.line.media_times[0]
        prev: CallerTurn | None = None
        for turn in self.turns:
            if turn.backchannel:
                await self._backchannel(turn, reply_start)
                continue
            try:
                barged = await self._before_turn(turn, reply_start)
            except _CallFailed:
                if prev is not None and prev.may_end_call and self.line.closed_at is not None:
                    self.result.closed_by = "tom"
                    return  # TOM ended the call after a goodbye/transfer: as scripted
                raise
            prev = turn
            res = await self._speak(turn, barged)
            try:
                reply_start = await self._await_reply(turn, res)
            except _CallEnded:
                return
        if self.turns and self.line.closed_at is None:
            await self.line.wait_for(lambda: not self.line.is_talking(self.quiet_ns),
                                     self.t.max_reply_s)

    async def _before_turn(self, turn: CallerTurn, reply_start: int | None) -> bool:
        """Wait until it is the caller's moment to speak; True when that interrupts TOM (a
        gap between two of its sentences at that moment is no end of its reply)."""
        if turn.barge_in and reply_start is not None:
            at = reply_start + turn.barge_in_after_ms * 1_000_000
            await asyncio.sleep(max(0, at - time.monotonic_ns()) / 1e9)
            self._check_line(f"before turn {turn.id!r}")
            if (self.line.is_talking(self.quiet_ns)
                    or await self.line.wait_for(self._audible, REPLY_OVER_S)):
                self._check_line(f"before turn {turn.id!r}")
                return True
        await self.line.wait_for(lambda: not self.line.is_talking(self.quiet_ns),
                                 self.t.max_reply_s)
        self._check_line(f"before turn {turn.id!r}")
        await asyncio.sleep(turn.pause_ms / 1000)
        self._check_line(f"before turn {turn.id!r}")
        return False

    def _audible(self) -> bool:
        """TOM's audio is playing at the far end now, or arrived in the last 100 ms."""
        now = time.monotonic_ns()
        last = self.line.media_times[-1] if self.line.media_times else None
        return self.line.playback_end_ns > now or (last is not None and now - last < 100_000_000)

    async def _backchannel(self, turn: CallerTurn, reply_start: int | None) -> None:
        """Say "okay" into TOM's reply `barge_in_after_ms` after it began; not said when TOM is
        quiet by then (and stays so for REPLY_OVER_S: a gap between sentences)."""
        res = BackchannelResult(turn.id, turn.text, turn.barge_in_after_ms, len(self.result.turns))
        self.result.backchannels.append(res)
        if reply_start is None:
            return
        at = reply_start + turn.barge_in_after_ms * 1_000_000
        await asyncio.sleep(max(0, at - time.monotonic_ns()) / 1e9)
        self._check_line(f"before backchannel {turn.id!r}")
        if not await self.line.wait_for(self._audible, REPLY_OVER_S):
            return
        utt = await self._say(turn, "backchannel")
        res.speech_start_ns, res.speech_end_ns = utt.started.result(), utt.ended.result()
        res.played = True
        # TOM pauses for any caller voice and goes on once it is over: a caller who said
        # "okay" waits for that (or for TOM's answer) before the script goes on.
        said = res.speech_end_ns
        await self.line.wait_for(lambda: self.line.first_media_after(said) is not None,
                                 BACKCHANNEL_RESUME_S)

    async def _say(self, turn: CallerTurn, what: str) -> Utterance:
        """Send the turn's audio at real-time pace; its speech started and ended (and its
        hesitation began) at the utterance's stamps."""
        start, end = speech_bounds(turn.audio)
        start = start if turn.speech_start is None else turn.speech_start
        end = end if turn.speech_end is None else turn.speech_end
        utt = self.line.speak(turn.audio, start, end, mark=turn.pause_at)
        await self.line.wait_for(lambda: utt.done.done(), len(turn.audio) / 2 / PHONE_RATE + 5.0)
        self._check_line(f"while the caller spoke {what} {turn.id!r}")
        if not utt.done.done():
            raise _CallFailed(f"could not send the audio of {what} {turn.id!r} in time")
        return utt

    async def _speak(self, turn: CallerTurn, barged: bool) -> TurnResult:
        res = TurnResult(turn.id, turn.text, barged=barged, paused=turn.paused)
        self.result.turns.append(res)
        utt = await self._say(turn, "turn")
        res.speech_start_ns, res.speech_end_ns = utt.started.result(), utt.ended.result()
        if not barged:
            early = self.line.first_media_after(res.speech_start_ns)
            res.overlapped = early is not None and early <= res.speech_end_ns
            if res.overlapped and early is not None and utt.marked is not None:
                res.ended_at_pause = decided_in_pause(early, utt.marked, turn.pause_len_ms)
        return res

    async def _await_reply(self, turn: CallerTurn, res: TurnResult) -> int | None:
        """Time TOM's answer (None: no reply, as the turn allows); _CallEnded if TOM hung up."""
        after = res.speech_end_ns or 0
        if res.barged:
            deadline_s = (res.speech_start_ns or 0) / 1e9 + self.t.barge_in_s - time.monotonic()
            await self.line.wait_for(
                lambda: self.line.first_clear_after(res.speech_start_ns or 0) is not None,
                max(0.0, deadline_s))
            res.clear_ns = self.line.first_clear_after(res.speech_start_ns or 0)
            if res.clear_ns is not None:
                after = max(after, res.clear_ns)
            else:  # TOM kept talking over the caller: the answer comes after that reply
                await self.line.wait_for(lambda: not self.line.is_talking(self.quiet_ns),
                                         self.t.max_reply_s)
                after = max(after, time.monotonic_ns())
        got = await self.line.wait_for(lambda: self.line.first_media_after(after) is not None,
                                       self.t.answer_s)
        res.reply_start_ns = self.line.first_media_after(after)
        if got:
            return res.reply_start_ns
        if turn.may_end_call and self.line.closed_at is not None:
            self.result.closed_by = "tom"
            raise _CallEnded
        self._check_line(f"after turn {turn.id!r}")
        if not turn.expect_reply:
            return None
        raise _CallFailed(f"no answer to turn {turn.id!r} within {self.t.answer_s:g} s")
