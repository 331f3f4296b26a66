"""Paces TOM's voice out in 20 ms frames and knows what the caller has actually heard.

Frames leave at most `lead_ms` ahead of real time, so a barge-in `clear` drops everything not
yet played and the transport's own buffer holds no more than that lead.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Segment:
    """One spoken sentence: its text and its audio as 20 ms PCM16 frames."""

    text: str
    frames: list[bytes]
    mark: str
    on_first_frame: Callable[[int], None] | None = None
    played: int = 0


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
                 lead_ms: int = 100, clock: Callable[[], int] = time.monotonic_ns) -> None:
        self.out = out
        self.frame_ns = frame_ms * 1_000_000
        self.lead_ns = lead_ms * 1_000_000
        self.clock = clock
        self.queue: deque[Segment] = deque()
        self.heard: list[str] = []  # texts fully played since the last `take_heard`
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._next_ns = 0  # when the next frame is due at the far end

    def add(self, segment: Segment) -> None:
        self.queue.append(segment)
        self._idle.clear()
        self._wake.set()

    @property
    def playing(self) -> bool:
        return bool(self.queue)

    async def drained(self) -> None:
        await self._idle.wait()

    def clear(self) -> str:
        """Drop all queued audio; return the text of the part the caller already heard."""
        partial = ""
        if self.queue and self.queue[0].played:
            seg = self.queue[0]
            words = seg.text.split()
            n = round(len(words) * seg.played / max(1, len(seg.frames)))
            partial = " ".join(words[:n])
        self.queue.clear()
        self._next_ns = 0
        self._idle.set()
        heard = " ".join([*self.heard, partial]).strip()
        self.heard = []
        return heard

    def take_heard(self) -> str:
        heard = " ".join(self.heard).strip()
        self.heard = []
        return heard

    async def run(self) -> None:
        while True:
            if not self.queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            now = self.clock()
            if self._next_ns < now:
                self._next_ns = now  # the line went idle: restart the timeline now
            ahead = self._next_ns - now
            if ahead > self.lead_ns:
                await asyncio.sleep((ahead - self.lead_ns) / 1e9)
                continue
            seg = self.queue[0]
            if seg.played == 0 and seg.on_first_frame is not None:
                seg.on_first_frame(self.clock())
            self.out(AudioOut(seg.frames[seg.played]))
            seg.played += 1
            self._next_ns += self.frame_ns
            if seg.played >= len(seg.frames):
                self.queue.popleft()
                self.heard.append(seg.text)
                self.out(MarkOut(seg.mark))
