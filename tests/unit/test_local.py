"""`tom talk`: turns gathered from typed events, and what the caller heard laid on a timeline."""

from __future__ import annotations

import json

import numpy as np

from tom.monitor import events as ev
from tom.telephony.local import HeardAudio, TurnCollector, TurnReport


def test_turns_are_gathered_from_this_calls_typed_events():
    printed: list[TurnReport] = []
    collector = TurnCollector("c1", printed.append)
    for event in [
        ev.Transcript(call_id="c1", role=ev.Role.ASSISTANT, text="Hello, TOM here.", turn=0),
        ev.Transcript(call_id="c1", role=ev.Role.CALLER, text="When do you open?", turn=1),
        ev.TurnTimed(call_id="c1", turn=1, timings_ms={"stt": 120.0, "e2e": 640.0}),
        ev.Transcript(call_id="other", role=ev.Role.CALLER, text="not this call", turn=1),
        ev.Transcript(call_id="c1", role=ev.Role.ASSISTANT, text="At nine.", turn=1,
                      interrupted=True),
    ]:
        collector(event)
    assert [r.turn for r in printed] == [0, 1]
    turn = collector.turns[1]
    assert (turn.user, turn.assistant, turn.interrupted) == ("When do you open?", ["At nine."],
                                                             True)
    assert json.loads(turn.to_json())["timings_ms"] == {"stt": 120.0, "e2e": 640.0}
    assert "e2e=640ms" in turn.to_text() and "[interrupted]" in turn.to_text()


def test_heard_audio_plays_back_to_back_and_clear_drops_the_unplayed_rest():
    heard = HeardAudio(8000)
    tone = (np.full(160, 8192, dtype="<i2")).tobytes()
    heard.play(tone, now_sample=0)
    heard.play(tone, now_sample=0)  # queued behind the first
    heard.clear(now_sample=100)  # barge-in while the first frame plays
    out = heard.render(400)
    assert np.all(out[:160] > 0.2)
    assert np.all(out[160:] == 0)
