import asyncio
import time

from tom.engine.playback import AudioOut, MarkOut, Player, Segment


def frames(n):
    return [bytes([i % 256]) * 320 for i in range(n)]


async def test_plays_in_real_time_with_marks():
    out = []
    player = Player(out.append, lead_ms=40)
    task = asyncio.create_task(player.run())
    start = time.monotonic()
    player.add(Segment("Hello there.", frames(10), "m1"))
    player.add(Segment("Bye.", frames(5), "m2"))
    await player.drained()
    elapsed = time.monotonic() - start
    task.cancel()
    audio = [o for o in out if isinstance(o, AudioOut)]
    marks = [o.name for o in out if isinstance(o, MarkOut)]
    assert len(audio) == 15 and marks == ["m1", "m2"]
    assert out.index(MarkOut("m1")) == 10  # the mark follows the sentence's last frame
    assert elapsed >= 15 * 0.02 - 0.04 - 0.02  # paced: never more than the lead ahead
    assert player.take_heard() == "Hello there. Bye."


async def test_clear_keeps_only_what_was_heard():
    out = []
    player = Player(out.append, lead_ms=20)
    task = asyncio.create_task(player.run())
    player.add(Segment("one two three four five six seven eight nine ten", frames(50), "a"))
    player.add(Segment("never heard", frames(10), "b"))
    await asyncio.sleep(0.5)  # about half of the first sentence
    heard = player.clear()
    task.cancel()
    words = heard.split()
    assert 2 <= len(words) <= 8 and words[0] == "one"
    assert "never" not in heard
    assert not player.playing
