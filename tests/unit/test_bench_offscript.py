"""The bench shows off-script turns apart from FAQ and flow turns, and whether they were grounded."""

from __future__ import annotations

import io
import json

from rich.console import Console

from tom.bench.caller import CallResult, TurnResult
from tom.bench.corpus import CallScript, CorpusTurn, load_corpus
from tom.bench.report import BenchReport, CallRecord, turn_kind
from tom.bench.stats import summaries_by
from tom.bench.table import render

MS = 1_000_000
HOURS = CorpusTurn("en-hours", "Are you open on Saturday?", "en", "question", ("10",))
SCOOTER = CorpusTurn("en-off-scooter", "Do you repair electric scooters?", "en", "question")
OWNER = CorpusTurn("en-off-owner", "Who runs the workshop?", "en", "question", ("Jana Brandt",))


def _turn(tid: str, end_ms: int, reply_ms: int) -> TurnResult:
    return TurnResult(tid, "", speech_start_ns=(end_ms - 1000) * MS, speech_end_ns=end_ms * MS,
                      reply_start_ns=reply_ms * MS)


def _report(owner_reply: str) -> BenchReport:
    script = CallScript("en-off", "en", (HOURS, SCOOTER, OWNER))
    result = CallResult("CA1", "MZ1", turns=[_turn("en-hours", 1_000, 1_400),
                                             _turn("en-off-scooter", 5_000, 5_900),
                                             _turn("en-off-owner", 9_000, 9_700)])
    transcript = [
        {"role": "caller", "turn": 1, "text": "are you open on saturday"},
        {"role": "assistant", "turn": 1, "text": "Saturday from ten to two."},
        {"role": "caller", "turn": 2, "text": "do you repair electric scooters"},
        {"role": "assistant", "turn": 2, "text": "I'm not sure about that. I can put you "
                                                 "through to a colleague or take a message."},
        {"role": "caller", "turn": 3, "text": "who runs the workshop"},
        {"role": "assistant", "turn": 3, "text": owner_reply}]
    turns = [{"turn": 1, "timings_ms": {"e2e": 380}}, {"turn": 2, "timings_ms": {"e2e": 850}},
             {"turn": 3, "timings_ms": {"e2e": 650, "llm_first_token": 120}}]
    record = CallRecord(script, result, transcript, turns, [], [])
    return BenchReport({"concurrency": 1, "language": "en"}, [record])


def test_turn_ids_with_the_mark_are_off_script() -> None:
    assert turn_kind("en-off-scooter") == "offscript" and turn_kind("en-hours") == "faq"
    corpus = load_corpus()
    off = [t for t in corpus.turns if turn_kind(t) == "offscript"]
    assert len(off) >= 9 and {corpus.turns[t].language for t in off} == {"en", "de"}
    assert any(all(turn_kind(t.id) == "offscript" or t.may_end_call for t in c.turns)
               for c in corpus.calls)


def test_faq_and_off_script_latency_apart() -> None:
    data = _report("The workshop is run by Jana Brandt and two mechanics.").to_dict()
    assert data["by_kind"]["faq"]["e2e"] == {"count": 1, "p50": 400.0, "p95": 400.0, "max": 400.0}
    assert data["by_kind"]["offscript"]["e2e"]["count"] == 2
    assert data["by_kind"]["offscript"]["e2e"]["max"] == 900.0
    assert data["by_kind"]["offscript"]["e2e_server"]["max"] == 850.0
    assert data["by_kind"]["offscript"]["llm_first_token"]["count"] == 1
    assert data["by_kind"]["faq"]["llm_first_token"]["count"] == 0
    check = next(c for c in data["checks"] if c["name"] == "e2e p95 ms (off-script)")
    assert check["ok"] is True
    json.dumps(data)


def test_off_script_grounding_counts_the_fact_or_the_offer() -> None:
    good = _report("The workshop is run by Jana Brandt and two mechanics.").offscript()
    assert (good["grounded"], good["turns"]) == (2, 2)
    assert good["offered"] == 1
    bad = _report("The run's network shop. I'm sorry, I couldn't help myself.").offscript()
    assert bad["grounded"] == 1 and bad["misses"][0]["turn"] == "en-off-owner"
    assert "word: network" in bad["misses"][0]["claims"]
    cougars = _report("Jana Brandt runs it. We repair electric cougars.").offscript()
    assert cougars["grounded"] == 1 and cougars["misses"][0]["claims"] == ["capability: cougars"]


def test_the_table_shows_both_kinds() -> None:
    out = io.StringIO()
    render(_report("Jana Brandt runs it."), Console(file=out, width=160))
    text = out.getvalue()
    assert "FAQ and flow turns" in text and "off-script turns" in text
    assert "off-script grounded" in text


def test_summaries_by_keeps_every_named_key() -> None:
    s = summaries_by([("a", 1.0), ("a", 3.0)], ("a", "b"))
    assert s["a"].p50 == 2.0 and s["b"].count == 0
