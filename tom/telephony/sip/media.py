"""20 ms PCM frames between the asyncio loop and PJSIP's media clock thread.

The clock thread pulls one outbound frame every 20 ms and pushes one inbound frame; neither
side waits for the other: the loop appends to a deque, the clock thread pops from it (silence
when it is empty) and hands inbound frames and reached marks to the loop thread-safely.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

FRAME_BYTES = 320  # 20 ms of PCM16 at 8 kHz


@dataclass(frozen=True)
class Marked:
    """The caller has heard TOM's audio up to mark `name` (it left the outbound buffer)."""

    name: str


@dataclass(frozen=True)
class _Mark:
    name: str


class FrameBuffer:
    """One call's audio both ways; `deliver` runs on the media thread and must not block."""

    def __init__(self, deliver: Callable[[bytes | Marked], None]) -> None:
        self._deliver = deliver
        self._out: deque[bytes | _Mark] = deque()
        self._lock = threading.Lock()
        self._partial = b""
        self.first_audio_ns = 0  # when the clock first took one of TOM's frames (monotonic)

    # --- loop side ----------------------------------------------------------------------------

    def put(self, pcm: bytes) -> None:
        """Queue TOM's audio (whole 20 ms frames are played; a short tail waits for more)."""
        with self._lock:
            data = self._partial + pcm
            cut = len(data) - len(data) % FRAME_BYTES
            for i in range(0, cut, FRAME_BYTES):
                self._out.append(data[i:i + FRAME_BYTES])
            self._partial = data[cut:]

    def mark(self, name: str) -> None:
        with self._lock:
            if self._partial:
                self._out.append(self._partial.ljust(FRAME_BYTES, b"\0"))
                self._partial = b""
            self._out.append(_Mark(name))

    def clear(self) -> None:
        """Barge-in: drop queued audio; marks behind it count as reached (as Twilio does)."""
        with self._lock:
            marks = [item for item in self._out if isinstance(item, _Mark)]
            self._out.clear()
            self._partial = b""
        for m in marks:
            self._deliver(Marked(m.name))

    @property
    def queued_frames(self) -> int:
        return sum(1 for item in self._out if not isinstance(item, _Mark))

    # --- media thread side --------------------------------------------------------------------

    def next_frame(self) -> bytes | None:
        """The next outbound frame, or None (silence); marks passed on the way are delivered."""
        reached: list[_Mark] = []
        frame: bytes | None = None
        with self._lock:
            while self._out:
                item = self._out.popleft()
                if isinstance(item, _Mark):
                    reached.append(item)
                    continue
                frame = item
                break
        if frame is not None and not self.first_audio_ns:
            self.first_audio_ns = time.monotonic_ns()
        for m in reached:
            self._deliver(Marked(m.name))
        return frame

    def received(self, pcm: bytes) -> None:
        self._deliver(pcm)
