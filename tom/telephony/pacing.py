"""Real-time pacing for audio that does not come from a call's player (e.g. the busy message).

A transport's buffer must never hold more than a short lead of audio, or a hang-up would cut
the message off early; so frames leave at the pace the far end plays them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from tom.audio import FRAME_MS, whole_frames

FRAME_S = FRAME_MS / 1000


async def paced_frames(pcm: bytes, rate: int, lead_ms: int = 100, *,
                       clock: Callable[[], float] = time.monotonic,
                       sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                       ) -> AsyncIterator[bytes]:
    """Yield 20 ms frames of `pcm` no more than `lead_ms` ahead of real time.

    Returns once the last frame has had time to play, so the caller may hang up right after.
    `clock` (seconds) and `sleep` are injectable for tests.
    """
    frames = whole_frames(pcm, rate)
    start = clock()
    for i, frame in enumerate(frames):
        delay = start + i * FRAME_S - lead_ms / 1000 - clock()
        if delay > 0:
            await sleep(delay)
        yield frame
    remaining = start + len(frames) * FRAME_S - clock()
    if remaining > 0:
        await sleep(remaining)
