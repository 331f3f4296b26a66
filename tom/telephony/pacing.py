"""Real-time pacing for audio that does not come from a call's player (e.g. the busy message)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from tom.audio import FrameSplitter


async def paced_frames(pcm: bytes, rate: int, lead_ms: int = 100) -> AsyncIterator[bytes]:
    """Yield 20 ms frames of `pcm` no more than `lead_ms` ahead of real time."""
    splitter = FrameSplitter(rate)
    frames = splitter.push(pcm)
    tail = splitter.flush()
    if tail:
        frames.append(tail + bytes(splitter.frame_bytes - len(tail)))
    start = time.monotonic()
    for i, frame in enumerate(frames):
        due = start + i * 0.02 - lead_ms / 1000
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        yield frame
    remaining = start + len(frames) * 0.02 - time.monotonic()
    if remaining > 0:
        await asyncio.sleep(remaining)
