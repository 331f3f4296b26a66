"""`tom bench --backchannels`: the plan, the caller saying it into TOM's reply, the verdicts."""

from __future__ import annotations

import io

import numpy as np
from fake_calls import FAST, tone_turn
from rich.console import Console

from tom.audio import float_to_pcm16
from tom.bench import backchannels
from tom.bench.backchannels import PHRASES, judge, plan, summary
from tom.bench.caller import (
    BackchannelResult,
    CallResult,
    TurnResult,
    place_call,
)
from tom.bench.corpus import CallScript, Corpus, CorpusTurn
from tom.bench.line import Received
from tom.bench.report import BenchReport, CallRecord
from tom.bench.run import BenchOptions, plan_calls
from tom.bench.synth import LineOptions, SpokenAudio, VoiceStyle
from tom.bench.table import render

S = 1_000_000_000
HELLO = CorpusTurn("hello", "Hello, good morning.", "en", "smalltalk")
HOURS = CorpusTurn("hours", "Are you open on Saturday?", "en", "question")
PRICE = CorpusTurn("price", "How much is a new chain?", "en", "question")
BYE = CorpusTurn("bye", "Thanks, goodbye!", "en", "goodbye")
SCRIPT = CallScript("s", "en", (HELLO, HOURS, PRICE, BYE))


# --- the plan -------------------------------------------------------------------------------------


def test_one_backchannel_per_reply_that_is_not_the_last_and_is_not_cut_short():
    slots = plan(SCRIPT, seed=0)
    assert [s.after for s in slots] == [-1, 0, 1, 2]  # the greeting and the first three replies
    cut = CallScript("s", "en", (HELLO, HOURS, PRICE, BYE), barge_in=frozenset({"price"}))
    assert [s.after for s in plan(cut, seed=0)] == [-1, 0, 2]  # "price" cuts reply 1 short
    ends = CallScript("s", "en", (HELLO, BYE, HOURS))
    assert [s.after for s in plan(ends, seed=0)] == [-1, 0]  # TOM may hang up after "bye"


def test_the_plan_is_seeded_and_varies_from_call_to_call():
    assert plan(SCRIPT, seed=3) == plan(SCRIPT, seed=3)
    plans = [plan(SCRIPT, seed=i) for i in range(20)]
    moments = {s.at_ms for p in plans for s in p}
    words = {s.phrase.label for p in plans for s in p}
    assert all(800 <= m <= 2500 for m in moments) and len(moments) > 20
    assert words == {p.label for p in PHRASES["en"]}
    german = CallScript("d", "de", (CorpusTurn("h", "Hallo.", "de", "smalltalk"),
                                    CorpusTurn("b", "Tschüss.", "de", "goodbye")))
    assert {s.phrase.label for i in range(20) for s in plan(german, i)} <= {
        p.label for p in PHRASES["de"]}


_PLAIN, _LINE = VoiceStyle(), LineOptions()


class _Voice:
    """Says anything as a 0.3 s tone; records what it was asked."""

    model_path = None

    def __init__(self) -> None:
        self.said: list[tuple[str, str, float | None]] = []

    def say(self, text: str, language: str = "en", style: VoiceStyle = _PLAIN,
            options: LineOptions = _LINE, seed: int = 0,
            babble: np.ndarray | None = None) -> SpokenAudio:
        self.said.append((text, language, None if babble is None else float(babble.sum())))
        tone = 0.3 * np.sin(np.arange(2400) * 0.2)
        return SpokenAudio(float_to_pcm16(tone), 8000, 0, 2400)


def test_planned_calls_say_the_backchannels_between_the_scripted_turns():
    corpus = Corpus({t.id: t for t in SCRIPT.turns}, (SCRIPT,))
    voice = _Voice()
    [call] = plan_calls(corpus, 1, "en", voice, BenchOptions(backchannels=True))  # type: ignore[arg-type]
    kinds = ["bc" if t.backchannel else t.id for t in call.turns]
    assert kinds == ["bc", "hello", "bc", "hours", "bc", "price", "bc", "bye"]
    slots = plan(SCRIPT, seed=0)
    bcs = [t for t in call.turns if t.backchannel]
    assert [t.text for t in bcs] == [s.phrase.label for s in slots]
    assert [t.barge_in_after_ms for t in bcs] == [s.at_ms for s in slots]
    assert all(not t.expect_reply for t in bcs)
    said = [text for text, _, _ in voice.said]
    assert [s.phrase.spoken for s in slots] == [t for t in said if t not in
                                                {x.text for x in SCRIPT.turns}]
    plain = plan_calls(corpus, 1, "en", _Voice(), BenchOptions())  # type: ignore[arg-type]
    assert not any(t.backchannel for t in plain[0].turns)


# --- the caller -----------------------------------------------------------------------------------







async def test_a_backchannel_is_said_into_tom_talking_and_is_no_turn(fake):
    tom, url = await fake(greeting_frames=150, barge_in=False)  # a 3 s greeting
    bc = tone_turn(0.3, id="bc-0", text="okay", backchannel=True, barge_in_after_ms=800,
               expect_reply=False)
    result = await place_call(url, [bc, tone_turn(0.5, id="hours")], timeouts=FAST)
    assert result.ok, result.failure
    assert [t.id for t in result.turns] == ["hours"]  # the backchannel is no scripted turn
    [said] = result.backchannels
    assert said.played and said.before_turn == 0
    assert result.greeting_ns is not None and said.speech_start_ns is not None
    into = (said.speech_start_ns - result.greeting_ns) / 1e6
    assert 800 <= into < 3000  # said at its moment, while the greeting still played
    assert result.turns[0].speech_start_ns > said.speech_end_ns


async def test_a_backchannel_is_not_said_once_tom_is_quiet(fake):
    tom, url = await fake(greeting_frames=5)  # a 0.1 s greeting: over by the 800 ms mark
    bc = tone_turn(0.3, id="bc-0", text="okay", backchannel=True, barge_in_after_ms=800,
               expect_reply=False)
    result = await place_call(url, [bc, tone_turn(0.5, id="hours")], timeouts=FAST)
    assert result.ok, result.failure
    [said] = result.backchannels
    assert not said.played and said.speech_start_ns is None
    assert result.turns[0].answered


# --- the verdicts ---------------------------------------------------------------------------------

WALL0 = 1_700_000_000.0


def _call(*bcs: BackchannelResult, clears: tuple[float, ...] = ()) -> CallResult:
    """A call that began at 0 s (WALL0 in Unix time), scripted turns at 10 s and 20 s."""
    result = CallResult("CA1", "MZ1", started_ns=0, started_wall=WALL0, turns=[
        TurnResult("hours", "", speech_start_ns=10 * S, speech_end_ns=11 * S),
        TurnResult("bye", "", speech_start_ns=20 * S, speech_end_ns=21 * S)])
    result.backchannels = list(bcs)
    result.received = [Received("clear", int(c * S)) for c in clears]
    return result


def _bc(at_s: float, before_turn: int, played: bool = True) -> BackchannelResult:
    return BackchannelResult(f"bc-{before_turn}", "okay", 1000, before_turn, played,
                             int(at_s * S) if played else None,
                             int((at_s + 0.4) * S) if played else None)


def _line(role: str, at_s: float, interrupted: bool = False) -> dict:
    return {"role": role, "text": "…", "interrupted": interrupted, "wall": WALL0 + at_s}


def test_tom_went_on_when_the_reply_it_fell_into_was_not_interrupted():
    transcript = [_line("assistant", 4.0), _line("caller", 11.5), _line("assistant", 16.0),
                  _line("caller", 21.5), _line("assistant", 23.0)]
    [v1, v2] = judge(_call(_bc(2.0, 0), _bc(13.0, 1), clears=(2.2,)), transcript)
    assert (v1.played, v1.paused, v1.went_on, v1.answered) == (True, True, True, False)
    assert (v2.paused, v2.went_on, v2.answered) == (False, True, False)


def test_tom_stopped_and_answered_the_backchannel_as_a_turn():
    transcript = [_line("assistant", 2.5, interrupted=True), _line("caller", 3.0),
                  _line("assistant", 5.0), _line("caller", 11.5), _line("assistant", 13.0)]
    [v] = judge(_call(_bc(2.0, 0), clears=(2.2,)), transcript)
    assert (v.went_on, v.answered) == (False, True)
    # the scripted turn's own caller line (after it began at 10 s) is not the backchannel's
    [late] = judge(_call(_bc(2.0, 0)), [_line("assistant", 4.0), _line("caller", 11.5)])
    assert (late.went_on, late.answered) == (True, False)


def test_unplayed_and_unjudgeable_backchannels_count_apart():
    [quiet] = judge(_call(_bc(2.0, 0, played=False)), [_line("assistant", 4.0)])
    assert not quiet.played and quiet.went_on is None
    [lost] = judge(_call(_bc(25.0, 2)), [_line("assistant", 4.0)])  # no reply after it
    assert lost.played and lost.went_on is None
    counts = summary([quiet, lost])
    assert counts == {"planned": 2, "played": 1, "paused": 0, "went_on": 0, "stopped": 0,
                      "answered": 0, "unknown": 1, "rate": None}


def test_report_checks_the_target_and_the_table_shows_it():
    transcript = [_line("assistant", 4.0), _line("caller", 11.5), _line("assistant", 16.0,
                                                                          interrupted=True)]
    record = CallRecord(SCRIPT, _call(_bc(2.0, 0), _bc(13.0, 1), clears=(2.2, 13.1)),
                        transcript)
    report = BenchReport({"backchannels": True}, [record])
    data = report.to_dict()
    bc = data["backchannels"]
    assert (bc["played"], bc["went_on"], bc["stopped"], bc["rate"]) == (2, 1, 1, 0.5)
    assert bc["by_phrase"]["okay"]["played"] == 2 and len(bc["each"]) == 2
    check = next(c for c in data["checks"] if c["name"] == "backchannels TOM went on")
    assert check["target"] == backchannels.TARGET_WENT_ON and check["ok"] is False
    assert not report.passed()
    # the pauses a backchannel caused are not false barge-ins
    assert data["barge_in_errors"]["false"] == 0
    out = io.StringIO()
    render(report, Console(file=out, width=140))
    assert "backchannels: TOM went on" in out.getvalue()
    assert "backchannels while TOM talks" in out.getvalue()
    without = BenchReport({}, [CallRecord(SCRIPT, _call(), transcript)]).to_dict()
    assert without["backchannels"] is None
    assert not any(c["name"].startswith("backchannels") for c in without["checks"])
