"""The bench caller against a fake Twilio-protocol TOM: timing arithmetic, marks, failures."""

from __future__ import annotations

import numpy as np
import pytest
from fake_calls import FAST, tone_turn

from tom.audio import float_to_pcm16
from tom.bench.caller import place_call, speech_bounds, stream_url


async def test_turn_latency_is_last_speech_frame_to_first_reply_frame(fake):
    tom, url = await fake(reply_after_silent_frames=10)
    result = await place_call(url, [tone_turn(id="a"), tone_turn(id="b")], timeouts=FAST)
    assert result.ok, result.failure
    assert result.greeting_ms is not None and result.greeting_ms >= 0
    media_times = [r.t_ns for r in result.received if r.kind == "media"]
    for turn in result.turns:
        assert turn.answered and not turn.barged and not turn.overlapped
        assert turn.speech_start_ns < turn.speech_end_ns < turn.reply_start_ns
        assert turn.reply_start_ns in media_times
        assert turn.e2e_ms == (turn.reply_start_ns - turn.speech_end_ns) / 1e6
        # the fake answers only after 10 silent 20 ms frames follow the speech
        assert turn.e2e_ms >= 100
        # speech is 0.5 s of tone: at least 20 frames between first and last voiced frame
        assert (turn.speech_end_ns - turn.speech_start_ns) / 1e6 >= 400
        assert len(turn.reply_audio) >= 25 * 160 * 2  # the 25-frame reply, decoded to PCM16
    assert [e[0] for e in tom.log].count("stop") == 1


async def test_start_message_and_token(fake):
    tom, url = await fake()
    result = await place_call(url, [tone_turn(id="a")], token="s3cret", caller="+15550199",
                              timeouts=FAST)
    assert result.ok, result.failure
    assert tom.tokens == ["s3cret"]
    start = tom.starts[0]
    assert start["callSid"] == result.call_sid and start["streamSid"] == result.stream_sid
    assert start["customParameters"] == {"caller": "+15550199"}
    assert start["mediaFormat"] == {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                    "channels": 1}
    assert start["tracks"] == ["inbound"]


async def test_marks_are_echoed_when_their_audio_has_played(fake):
    tom, url = await fake(greeting_frames=25, reply_frames=25)
    result = await place_call(url, [tone_turn(id="a")], timeouts=FAST)
    assert result.ok, result.failure
    sent = {name: t for kind, t, name in tom.log if kind == "reply"}
    echoed = {name: t for kind, t, name in tom.log if kind == "mark_echo"}
    assert set(echoed) == set(sent) == {"reply-1", "reply-2"}
    assert result.marks_echoed == 2
    for name, t in sent.items():
        assert (echoed[name] - t) / 1e6 >= 400  # 25 frames = 500 ms of playback first


async def test_barge_in_measures_speech_start_to_clear(fake):
    tom, url = await fake(greeting_frames=150)  # a 3 s greeting to talk over
    turn = tone_turn(0.8, id="interrupt", barge_in=True, barge_in_after_ms=300)
    result = await place_call(url, [turn], timeouts=FAST)
    assert result.ok, result.failure
    barged = result.turns[0]
    assert barged.barged and barged.clear_ns is not None
    assert barged.barge_in_ms == (barged.clear_ns - barged.speech_start_ns) / 1e6 >= 0
    assert result.clears == 1
    # Twilio returns pending marks at once on `clear`: the greeting's mark comes back
    # while the caller is still talking, not after the 3 s of greeting would have played.
    kinds = [(kind, detail) for kind, _, detail in tom.log]
    clear_at = kinds.index(("clear", ""))
    echo_at = kinds.index(("mark_echo", "reply-1"))
    last_voiced = max(i for i, k in enumerate(kinds) if k == ("media", "voiced"))
    assert clear_at < echo_at < last_voiced
    # the answer to the interrupting turn is timed from its end, after the clear
    assert barged.reply_start_ns > max(barged.speech_end_ns, barged.clear_ns)


async def test_no_barge_in_when_tom_already_finished(fake):
    tom, url = await fake(greeting_frames=5)
    turn = tone_turn(id="late", barge_in=True, barge_in_after_ms=600)
    result = await place_call(url, [turn], timeouts=FAST)
    assert result.ok, result.failure
    assert not result.turns[0].barged and result.turns[0].barge_in_ms is None


@pytest.mark.parametrize(("mode", "failure"), [
    ("close_after_first_turn", "TOM closed the connection"),
    ("never_answer", "no answer to turn 'a'"),
    ("no_greeting", "no greeting within"),
    ("bad_stream_sid", "protocol error"),
])
async def test_misbehaving_tom_fails_the_call(fake, mode, failure):
    tom, url = await fake(mode=mode)
    result = await place_call(url, [tone_turn(id="a"), tone_turn(id="b")], timeouts=FAST)
    assert not result.ok
    assert failure in result.failure
    if mode == "close_after_first_turn":
        assert result.closed_by == "tom"
    else:
        assert [e[0] for e in tom.log].count("stop") == 1, "the caller hangs up with stop"


async def test_tom_may_hang_up_after_a_goodbye(fake):
    tom, url = await fake(mode="close_after_first_turn")
    result = await place_call(url, [tone_turn(id="bye", may_end_call=True)], timeouts=FAST)
    assert result.ok, result.failure
    assert result.closed_by == "tom"


async def test_unreachable_tom_is_a_failed_call():
    result = await place_call("ws://127.0.0.1:9/twilio/stream", [tone_turn(id="a")],
                              timeouts=FAST)
    assert not result.ok and "could not reach TOM" in result.failure


def test_stream_url_accepts_base_urls():
    assert stream_url("http://127.0.0.1:8080") == "ws://127.0.0.1:8080/twilio/stream"
    assert stream_url("https://tom.example.org/") == "wss://tom.example.org/twilio/stream"
    assert stream_url("ws://h:1/twilio/stream") == "ws://h:1/twilio/stream"


def test_speech_bounds_find_the_voiced_part():
    t = np.arange(4000) / 8000
    audio = np.concatenate([np.zeros(1600), 0.3 * np.sin(2 * np.pi * 300 * t), np.zeros(2400)])
    start, end = speech_bounds(float_to_pcm16(audio))
    assert start == 1600 and end == 5600
