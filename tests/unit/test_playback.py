"""The player: paced frames with marks, and what the caller heard when TOM is cut off.

Time is a fake clock that the player's own sleeps advance, so pacing is checked exactly.
"""

from __future__ import annotations

import asyncio

import pytest

from tom.engine.playback import AudioOut, MarkOut, Player, Segment

FRAME_NS = 20_000_000


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000_000_000

    def clock(self) -> int:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += int(seconds * 1e9)
        await asyncio.sleep(0)

    def advance_frames(self, n: int) -> None:
        self.now += n * FRAME_NS


def frames(n: int) -> list[bytes]:
    return [bytes([i % 256]) * 320 for i in range(n)]


class Sent(list):
    """(ns, item) for everything the player put out; `frames(n)` waits until n frames left."""

    def __init__(self, time: FakeTime) -> None:
        super().__init__()
        self.time = time
        self.waiting: tuple[int, asyncio.Event] | None = None

    def __call__(self, item: object) -> None:
        self.append((self.time.now, item))
        if self.waiting and self.count_audio() >= self.waiting[0]:
            self.waiting[1].set()

    def count_audio(self) -> int:
        return sum(isinstance(item, AudioOut) for _, item in self)

    async def frames(self, n: int) -> None:
        self.waiting = (n, asyncio.Event())
        if self.count_audio() < n:
            await asyncio.wait_for(self.waiting[1].wait(), 5)


@pytest.fixture
async def line():
    """A player on fake time and what it sent."""
    time = FakeTime()
    sent = Sent(time)
    tasks: list[asyncio.Task] = []

    def make(lead_ms: int) -> Player:
        player = Player(sent, lead_ms=lead_ms, clock=time.clock, sleep=time.sleep)
        tasks.append(asyncio.create_task(player.run()))
        return player

    yield make, time, sent
    for task in tasks:
        task.cancel()


async def test_plays_in_real_time_with_marks(line):
    make, time, sent = line
    player = make(lead_ms=40)
    start = time.now
    player.add(Segment("Hello there.", frames(10), "m1"))
    player.add(Segment("Bye.", frames(5), "m2"))
    await player.drained()
    items = [item for _, item in sent]
    audio = [(ns, item) for ns, item in sent if isinstance(item, AudioOut)]
    assert len(audio) == 15 and [i.name for i in items if isinstance(i, MarkOut)] == ["m1", "m2"]
    assert items.index(MarkOut("m1")) == 10  # the mark follows the sentence's last frame
    for i, (ns, _) in enumerate(audio):  # never more than the lead ahead of real time
        assert ns >= start + i * FRAME_NS - 40_000_000
    assert audio[-1][0] - start <= 15 * FRAME_NS  # and not behind it either
    assert player.take_heard() == "Hello there. Bye."


async def test_clear_keeps_only_what_was_heard(line):
    make, time, sent = line
    player = make(lead_ms=20)
    player.add(Segment("one two three four five six seven eight nine ten", frames(50), "a"))
    player.add(Segment("never heard", frames(10), "b"))
    await sent.frames(25)  # half of the first sentence has gone out
    heard = player.clear()
    assert heard == "one two three four five"
    assert not player.playing


async def test_a_segment_first_frame_reports_when_it_left(line):
    make, time, _ = line
    player = make(lead_ms=1000)
    seen: list[int] = []
    player.add(Segment("Hi.", frames(3), "m", on_first_frame=seen.append))
    await player.drained()
    assert seen == [time.now]  # everything left at once within the lead


async def test_without_mark_echoes_a_sentence_counts_once_sent(line):
    make, _, sent = line
    player = make(lead_ms=200)
    player.add(Segment("First.", frames(5), "a"))
    player.add(Segment("Second one here.", frames(30), "b"))
    await sent.frames(20)
    # the whole first sentence and half the second were sent: today's estimate
    assert player.clear() == "First. Second one"


async def test_confirmed_marks_drive_what_was_heard_on_clear(line):
    make, time, _ = line
    player = make(lead_ms=10_000)  # a transport that buffers a lot: everything is sent at once
    player.add(Segment("Greeting.", frames(5), "g"))
    await player.drained()
    player.confirm("g")  # the first echo: from now on heard means confirmed
    assert player.take_heard() == "Greeting."
    player.add(Segment("one two three four", frames(20), "a"))
    player.add(Segment("five six seven eight", frames(20), "b"))
    player.add(Segment("never played", frames(20), "c"))
    await player.drained()  # all sent, nothing played yet at the far end
    time.advance_frames(20)
    player.confirm("a")
    time.advance_frames(10)  # half of "b" has played since "a" came back
    assert player.clear() == "one two three four five six"


async def test_a_mark_for_a_cleared_sentence_is_ignored(line):
    make, time, _ = line
    player = make(lead_ms=10_000)
    player.confirm("old")  # echoes of cleared marks switch the mode but count nothing
    player.add(Segment("Alpha.", frames(4), "x"))
    await player.drained()
    assert player.in_flight and player.heard == []
    player.clear()
    player.confirm("x")  # Twilio echoes the marks a clear dropped
    assert player.take_heard() == ""


async def test_marks_confirm_in_order_and_take_heard_counts_what_is_in_flight(line):
    make, _, _ = line
    player = make(lead_ms=10_000)
    player.confirm("switch")
    for name in "abc":
        player.add(Segment(name.upper() + ".", frames(2), name))
    await player.drained()
    player.confirm("b")  # "a" is implied: marks come back in order
    assert player.heard == ["A.", "B."] and [s.mark for s in player.in_flight] == ["c"]
    assert player.take_heard() == "A. B. C."  # nothing left to send: "C." will be heard
    assert not player.in_flight


async def test_segment_words_in_is_bounded():
    seg = Segment("a b c d", frames(4), "m")
    assert seg.words_in(-3) == "" and seg.words_in(2) == "a b" and seg.words_in(99) == "a b c d"
