"""Bench figures from hand-made call records: arithmetic, targets, JSON completeness."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from tom.bench.caller import HESITATION_REPLY_NS, CallResult, TurnResult, decided_in_pause
from tom.bench.corpus import CallScript, CorpusTurn
from tom.bench.report import BenchReport, CallRecord, Resources, fact_in
from tom.bench.table import render

MS = 1_000_000


def _turn(tid: str, end_ms: int, reply_ms: int | None, *, overlapped: bool = False,
          barged: bool = False, clear_ms: int | None = None) -> TurnResult:
    return TurnResult(tid, "", speech_start_ns=(end_ms - 1000) * MS, speech_end_ns=end_ms * MS,
                      reply_start_ns=None if reply_ms is None else reply_ms * MS,
                      clear_ns=None if clear_ms is None else clear_ms * MS, barged=barged,
                      overlapped=overlapped)


HOURS = CorpusTurn("hours", "Are you open on Saturday?", "en", "question", ("10",))
BYE = CorpusTurn("bye", "Thanks, goodbye!", "en", "goodbye")
PREIS = CorpusTurn("preis", "Was kostet die große Inspektion?", "de", "question", ("89",))


def _record(script_turns, results, transcript, turns=(), failure=None, raw=()):
    lang = script_turns[0].language
    script = CallScript("s-" + lang, lang, tuple(script_turns))
    result = CallResult("CA1", "MZ1", failure=failure, turns=list(results))
    return CallRecord(script, result, list(transcript), list(turns), [], list(raw))


@pytest.fixture
def report() -> BenchReport:
    en = _record(
        [HOURS, BYE],
        [_turn("hours", 10_000, 10_400), _turn("bye", 20_000, 20_900, overlapped=False),
         ],
        [{"role": "assistant", "turn": 0, "text": "Hello!"},
         {"role": "caller", "turn": 1, "text": "are you open on saturday"},
         {"role": "assistant", "turn": 1, "text": "Saturday from ten to two."},
         {"role": "caller", "turn": 2, "text": "thanks goodbye"},
         {"role": "assistant", "turn": 2, "text": "Goodbye!"}],
        turns=[{"turn": 1, "intent": "question",  # an older record: no queue keys
                "timings_ms": {"stt": 100, "e2e": 390}},
               {"turn": 2, "intent": "smalltalk",
                "timings_ms": {"stt_queue": 60, "stt": 300, "e2e": 880, "llm_queue": 0,
                               "llm_first_token": 450, "tts_queue": "n/a"}}])
    de = _record(
        [PREIS],
        [_turn("preis", 5_000, 5_010, overlapped=True)],
        [{"role": "caller", "turn": 1, "text": "Was kostet die grosse Inspektion"},
         {"role": "assistant", "turn": 1, "text": "Die große Inspektion kostet 89 Euro."}],
        raw=[{"type": "turn", "data": {"note": "GrÃ¶ÃŸe"}}])
    failed = _record([BYE], [_turn("bye", 1_000, None)], [], failure="no answer to turn 'bye'")
    return BenchReport({"concurrency": 1, "language": "all"}, [en, de, failed],
                       Resources(55.0, 700.0, "test"), log_mojibake=["bad \ufffd line"])


def test_caller_e2e_leaves_out_turns_tom_talked_over(report):
    e2e = report.e2e()
    assert e2e.count == 2
    assert (e2e.p50, e2e.max) == (650.0, 900.0)
    assert report.talk_over() == {"turns": 1, "of": 4}


def test_stage_figures_come_from_tom_turn_timings(report):
    assert report.stage("stt").to_dict() == {"count": 2, "p50": 200.0, "p95": 290.0,
                                             "max": 300.0}
    assert report.stage("llm_first_token").count == 1
    assert report.stage("tts_first_audio").count == 0


def test_queue_wait_is_reported_apart_from_compute(report):
    assert report.stage("stt_queue").to_dict() == {"count": 1, "p50": 60.0, "p95": 60.0,
                                                   "max": 60.0}
    assert report.stage("llm_queue").count == 1  # a zero wait is a measurement
    assert report.stage("tts_queue").count == 0  # not a number: left out
    stages = report.to_dict()["stages"]
    assert stages["stt_queue"]["p50"] == 60.0 and stages["stt_queue"]["target_ms"] is None
    assert stages["stt"]["count"] == 2 and stages["stt"]["target_ms"] == 200.0


def test_table_shows_queue_wait_beside_compute(report):
    out = io.StringIO()
    render(report, Console(file=out, width=200, color_system=None))
    rows = [line for line in out.getvalue().splitlines() if "│" in line]
    labels = [line.split("│")[1].strip() for line in rows]
    assert labels.index("STT queue wait") + 1 == labels.index("STT compute")
    assert labels.index("LLM queue wait") + 1 == labels.index("LLM first token")
    assert labels.index("TTS queue wait") + 1 == labels.index("TTS first audio")
    stt_queue = rows[labels.index("STT queue wait")].split("│")
    assert [c.strip() for c in stt_queue[2:6]] == ["60", "60", "60", "1"]


def test_turns_with_odd_timings_are_skipped():
    record = _record([HOURS], [_turn("hours", 1_000, 1_500)], [],
                     turns=[{"turn": 1, "timings_ms": None}, {"turn": 2},
                            {"turn": 3, "timings_ms": {"stt": True, "e2e": float("nan")}}])
    report = BenchReport({}, [record])
    assert report.stage("stt").count == 0 and report.stage("e2e").count == 0


def test_accuracy_is_one_minus_wer_over_all_words(report):
    errors = report.word_errors()
    assert errors["en"].errors == 0 and errors["en"].ref_words == 7
    assert errors["de"].errors == 0  # große == grosse
    assert report.accuracy() == 1.0


def test_a_caller_line_joined_into_a_later_one_counts_once():
    """The caller paused after "open on", TOM answered, the caller went on: TOM's joined line
    holds the whole sentence, and the cut-off line is not counted a second time."""
    record = _record(
        [HOURS], [_turn("hours", 10_000, 10_400)],
        [{"role": "caller", "turn": 1, "text": "are you open on"},
         {"role": "assistant", "turn": 1, "text": "Our opening", "interrupted": True},
         {"role": "caller", "turn": 2, "text": "are you open on saturday", "joins": 1},
         {"role": "assistant", "turn": 2, "text": "Saturday from ten to two."}])
    assert [t["text"] for t in record.lines("caller")] == ["are you open on saturday"]
    assert [t["turn"] for t in record.lines("assistant")] == [1, 2]
    assert BenchReport({}, [record]).accuracy() == 1.0
    kept = BenchReport({}, [record]).to_dict()["per_call"][0]["transcript"]
    assert [t["joins"] for t in kept] == [None, None, 1, None]  # the JSON keeps the link


def test_intents_facts_failures_mojibake(report):
    assert report.intents() == {"matched": 1, "total": 2, "rate": 0.5}
    facts = report.facts()
    assert (facts["hit"], facts["total"]) == (2, 2)
    assert report.failed_pct() == pytest.approx(100 / 3)
    moji = report.mojibake()
    assert (moji["events"], moji["logs"], moji["transcripts"]) == (2, 1, 0)


def test_checks_compare_each_figure_with_its_target(report):
    checks = {c["name"]: c for c in report.checks()}
    assert checks["stt p95 ms"]["ok"] is False  # 290 > 200
    assert checks["e2e p95 ms (caller)"]["ok"] is True  # 885 <= 1000
    assert checks["accuracy"]["ok"] is True
    assert checks["mojibake"]["ok"] is False
    assert checks["failed calls %"]["ok"] is False
    assert checks["tts_first_audio p95 ms"]["ok"] is None  # not measured
    assert not report.passed()


def test_json_has_every_figure(report):
    data = json.loads(json.dumps(report.to_dict(), ensure_ascii=False))
    for key in ("meta", "calls", "stages", "e2e", "greeting", "barge_in", "barge_in_server",
                "accuracy", "intents", "facts", "mojibake", "resources", "checks", "passed",
                "talk_over", "per_call", "sweep"):
        assert key in data
    assert set(data["stages"]) == {"vad_wait", "stt_queue", "stt", "llm_queue",
                                   "llm_first_token", "tts_queue", "tts_first_audio",
                                   "e2e_server"}
    assert data["calls"]["failed"] == 1
    assert data["resources"] == {"cpu_percent": 55.0, "peak_rss_mb": 700.0, "source": "test"}


@pytest.mark.parametrize(("fact", "answer", "lang", "found"), [
    ("15", "It costs fifteen euros.", "en", True),
    ("15", "It costs 150 euros.", "en", False),
    ("two", "There are 2 parking spaces.", "en", True),
    ("Mühlenweg 7", "You'll find us at Mühlenweg 7, Freiburg.", "en", True),
    ("Mühlenweg 7", "You'll find us at Muhlenweg 7.", "en", False),
    ("4589320", "Our number is 0 7 6 1, 4 5 8 9 3 2 0.", "en", True),
    ("89", "Die große Inspektion kostet neunundachtzig Euro.", "de", True),
])
def test_fact_in(fact, answer, lang, found):
    assert fact_in(fact, answer, lang) is found


def test_false_barge_ins_are_clears_while_the_caller_was_silent():
    from tom.bench.caller import CallResult, TurnResult
    from tom.bench.line import Received
    from tom.bench.report import BenchReport, CallRecord

    s = 1_000_000_000
    result = CallResult("CA1", "MZ1", turns=[
        TurnResult("t1", "hello", speech_start_ns=10 * s, speech_end_ns=12 * s),
        TurnResult("t2", "stop", speech_start_ns=20 * s, speech_end_ns=21 * s, barged=True)])
    result.received = [Received("clear", 5 * s),  # TOM cut itself off: nobody spoke
                       Received("clear", int(10.2 * s)),  # the caller's voice
                       Received("clear", 30 * s)]  # again nobody
    record = CallRecord(None, result, [], [], [], {})  # type: ignore[arg-type]
    report = BenchReport({}, [record], None, [], None)  # type: ignore[arg-type]
    assert report.false_barge_ins() == {"false": 2, "missed": 1, "calls": 1}


def test_a_reply_in_or_just_after_a_hesitation_took_it_for_an_end_of_turn():
    pause = 10_000 * MS
    assert decided_in_pause(pause + 300 * MS, pause, 1000)  # in the pause
    assert decided_in_pause(pause + 1000 * MS + HESITATION_REPLY_NS, pause, 1000)  # decided at its end
    assert not decided_in_pause(pause - 200 * MS, pause, 1000)  # at a comma before it
    assert not decided_in_pause(pause + 1000 * MS + HESITATION_REPLY_NS + MS, pause, 1000)


def test_pauses_count_the_hesitations_taken_for_an_end_apart_from_other_talk_over():
    """Three turns with a hesitation: TOM answered one in the hesitation, talked over one at a
    sentence break after it, and waited for the third; a turn without one does not count."""
    turns = [_turn("a", 10_000, 9_000, overlapped=True), _turn("b", 20_000, 19_500, overlapped=True),
             _turn("c", 30_000, 30_300), _turn("d", 40_000, 39_000, overlapped=True)]
    for t in turns[:3]:
        t.paused = True
    turns[0].ended_at_pause = True
    record = _record([HOURS] * 4, turns, [])
    pauses = BenchReport({}, [record]).pauses()
    assert pauses is not None
    assert (pauses["ended"], pauses["of"], pauses["talked_over_elsewhere"]) == (1, 3, 1)
    assert pauses["ended_pct"] == pytest.approx(33.3)
    assert BenchReport({}, [record]).talk_over() == {"turns": 3, "of": 4}
    out = io.StringIO()
    render(BenchReport({}, [record]), Console(file=out, width=140))
    assert "talked over at another pause" in out.getvalue()
