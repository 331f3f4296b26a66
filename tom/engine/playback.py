"""Paces TOM's voice out in 20 ms frames and knows what the caller has actually heard.

Frames leave at most `lead_ms` ahead of real time, so a barge-in `clear` drops everything not
yet played and the transport's own buffer holds no more than that lead.

What was heard: a sentence (`Segment`) ends with a mark. Transports that echo marks once the
audio before them has played (Twilio) report each echo through `confirm`; from the first echo
on, a sentence counts as heard when its mark came back, and a `clear` estimates the part heard
only of the sentence that was playing. Transports that never echo marks count a sentence as
heard once its last frame was sent.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tom.engine.timings import Clock


@dataclass
class Segment:
    """One spoken sentence: its text and its audio as 20 ms PCM16 frames."""

    text: str
    frames: list[bytes]
    mark: str
    on_first_frame: Callable[[int], None] | None = None
    sent: int = 0  # frames handed to the transport so far
    first_sent_ns: int = 0

    def words_in(self, frames: int) -> str:
        """The words spoken in the first `frames` frames, assuming an even pace."""
        words = self.text.split()
        n = round(len(words) * max(0, min(frames, len(self.frames))) / max(1, len(self.frames)))
        return " ".join(words[:n])


@dataclass(frozen=True)
class AudioOut:
    pcm: bytes
    ts_ns: int = field(default_factory=time.monotonic_ns)


@dataclass(frozen=True)
class MarkOut:
    name: str


@dataclass(frozen=True)
class ClearOut:
    pass


@dataclass(frozen=True)
class EndOut:
    action: str  # "hangup" | "transfer"
    reason: str = ""


Outbound = AudioOut | MarkOut | ClearOut | EndOut


class Player:
    """Real-time pacer from queued segments to the call's outbound queue."""

    def __init__(self, out: Callable[[Outbound], None], *, frame_ms: int = 20,
                 lead_ms: int = 100, clock: Clock = time.monotonic_ns,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.out = out
        self.sleep = sleep
        self.frame_ns = frame_ms * 1_000_000
        self.lead_ns = lead_ms * 1_000_000
        self.clock = clock
        self.queue: deque[Segment] = deque()  # not yet sent in full; queue[0] may be under way
        self.in_flight: deque[Segment] = deque()  # sent in full, mark not yet echoed
        self.heard: list[str] = []  # texts heard since the last `take_heard`
        self.echoes_marks = False  # the transport confirmed a mark: heard follows confirmations
        self._last_confirm_ns = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._next_ns = 0  # when the next frame is due at the far end
        self.paused = False  # held while the caller may only be saying "mhm" (resume goes on)
        self._paused_ns = 0
        # Sees every frame sent with the time it is due at the far end (the echo reference).
        self.tap: Callable[[bytes, int], None] | None = None

    def add(self, segment: Segment) -> None:
        self.queue.append(segment)
        self._idle.clear()
        self._wake.set()

    @property
    def playing(self) -> bool:
        """Frames are still to be sent (a barge-in would cut them)."""
        return bool(self.queue)

    async def drained(self) -> None:
        await self._idle.wait()

    def confirm(self, mark: str) -> None:
        """The transport played the audio up to `mark`; marks come back in the order sent."""
        if not self.echoes_marks:
            self.echoes_marks = True  # sentences sent so far were already counted as heard
            self._last_confirm_ns = self.clock()
        if all(seg.mark != mark for seg in self.in_flight):
            return  # cleared before it played, or counted already
        self._last_confirm_ns = self.clock()
        while self.in_flight:
            seg = self.in_flight.popleft()
            self.heard.append(seg.text)
            if seg.mark == mark:
                return

    def pause(self) -> None:
        """Stop sending and drop what the transport has buffered; `resume` goes on from there.

        Frames already sent but not yet due are sent again after the pause, so a caller who only
        said "mhm" hears the sentence go on where it stopped.
        """
        if self.paused or not self.queue:
            return
        self.paused = True
        self._paused_ns = self.clock()
        seg = self.queue[0]
        ahead = max(0, (self._next_ns - self.clock()) // self.frame_ns)
        seg.sent -= min(seg.sent, ahead)
        self._next_ns = 0
        self.out(ClearOut())

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            # for what was heard, the sentence playing began that much later
            shift = self.clock() - self._paused_ns
            self._last_confirm_ns += shift
            if self.queue and self.queue[0].sent:
                self.queue[0].first_sent_ns += shift
            self._wake.set()

    def clear(self) -> str:
        """Drop all queued audio; return the text of the part the caller already heard."""
        self.paused = False
        partial = self._partly_heard()
        self.queue.clear()
        self.in_flight.clear()
        self._next_ns = 0
        self._idle.set()
        heard = " ".join([*self.heard, partial]).strip()
        self.heard = []
        return heard

    def _partly_heard(self) -> str:
        """The words heard of the sentence playing when the caller cut in."""
        if not self.echoes_marks:  # the sentence being sent is the one being played
            seg = self.queue[0] if self.queue else None
            return seg.words_in(seg.sent) if seg is not None and seg.sent else ""
        playing = self.in_flight[0] if self.in_flight else self.queue[0] if self.queue else None
        if playing is None or not playing.sent:
            return ""
        # It began to play when the one before it was confirmed, or when it was sent if later.
        began = max(playing.first_sent_ns, self._last_confirm_ns)
        now = self._paused_ns if self.paused else self.clock()
        played = (now - began) // self.frame_ns
        return playing.words_in(min(playing.sent, played))

    def take_heard(self) -> str:
        """What was heard since the last call, once everything queued has been sent.

        Sentences still in flight count too: with nothing left to send no clear can cut them.
        """
        heard = " ".join([*self.heard, *(seg.text for seg in self.in_flight)]).strip()
        self.heard = []
        self.in_flight.clear()
        return heard

    async def run(self) -> None:
        while True:
            if not self.queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            if self.paused:  # not idle: the reply still waits for its audio to play out
                self._wake.clear()
                await self._wake.wait()
                continue
            now = self.clock()
            if self._next_ns < now:
                self._next_ns = now  # the line went idle: restart the timeline now
            ahead = self._next_ns - now
            if ahead > self.lead_ns:
                await self.sleep((ahead - self.lead_ns) / 1e9)
                continue
            self._send_frame(self.queue[0])
            self._next_ns += self.frame_ns

    def _send_frame(self, seg: Segment) -> None:
        if seg.sent == 0:
            seg.first_sent_ns = self.clock()
            if seg.on_first_frame is not None:
                seg.on_first_frame(seg.first_sent_ns)
        self.out(AudioOut(seg.frames[seg.sent]))
        if self.tap is not None:
            self.tap(seg.frames[seg.sent], max(self._next_ns, self.clock()))
        seg.sent += 1
        if seg.sent >= len(seg.frames):
            self.queue.popleft()
            if self.echoes_marks:
                self.in_flight.append(seg)
            else:
                self.heard.append(seg.text)
            self.out(MarkOut(seg.mark))
