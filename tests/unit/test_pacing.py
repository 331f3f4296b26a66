"""Paced frames: whole 20 ms frames, never more than the lead ahead of the far end's playback."""

from __future__ import annotations

from tom.audio import frame_bytes
from tom.telephony.pacing import paced_frames

RATE = 8000
FRAME = frame_bytes(RATE)  # 320 bytes


class FakeClock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def _pace(pcm: bytes, lead_ms: int, clock: FakeClock) -> list[tuple[float, bytes]]:
    return [(clock.now, frame) async for frame in
            paced_frames(pcm, RATE, lead_ms, clock=clock, sleep=clock.sleep)]


async def test_frames_are_whole_and_the_last_is_padded_with_silence():
    pcm = b"\x01\x02" * (FRAME // 2 * 2 + 10)  # two frames and 10 samples
    frames = [f for _, f in await _pace(pcm, 100, FakeClock())]
    assert [len(f) for f in frames] == [FRAME, FRAME, FRAME]
    assert b"".join(frames)[:len(pcm)] == pcm
    assert frames[-1][20:] == bytes(FRAME - 20)


async def test_no_frame_leaves_more_than_the_lead_ahead():
    clock = FakeClock()
    start = clock.now
    sent = await _pace(bytes(FRAME * 50), 100, clock)  # one second of audio
    for i, (at, _) in enumerate(sent):
        plays_at = start + i * 0.02
        assert plays_at - at <= 0.1 + 1e-9, f"frame {i} left {plays_at - at:.3f} s early"
    assert sent[4][0] == start  # the first 100 ms go out at once
    assert sent[10][0] > start


async def test_returns_only_when_the_audio_has_played():
    clock = FakeClock()
    start = clock.now
    await _pace(bytes(FRAME * 25), 100, clock)  # half a second
    assert abs(clock.now - (start + 0.5)) < 1e-9


async def test_nothing_to_play_returns_at_once():
    clock = FakeClock()
    assert await _pace(b"", 100, clock) == []
    assert clock.sleeps == []
