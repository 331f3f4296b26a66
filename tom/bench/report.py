"""From finished calls to figures: stages, caller-side latency, accuracy, mojibake, failures.

Each figure sits next to its target so a run reads as pass/fail at a glance; `to_dict` is the
`--json` output and holds every figure the table shows, and more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tom.bench import backchannels, mojibake
from tom.bench.caller import CallResult
from tom.bench.corpus import CallScript, CorpusTurn
from tom.bench.language_id import language_id
from tom.bench.stats import Summary, summaries_by
from tom.bench.wer import WordErrors, normalize, word_errors
from tom.monitor.events import TIMING_KEYS

# TOM's own turn timings, queue wait and compute apart (older runs and FAQ turns lack some).
STAGES = TIMING_KEYS
STAGE_TARGETS_MS = {"stt": 200.0, "llm_first_token": 500.0, "tts_first_audio": 300.0}
E2E_TARGET_MS = 1000.0
ACCURACY_TARGET = 0.95
MOJIBAKE_TARGET = 0
FAILED_PCT_TARGET = 2.0
PAUSES_ENDED_PCT_TARGET = 5.0  # issue 13: a pause of up to 1 s inside a sentence ends the turn
CLEAR_GRACE_NS = 1_500_000_000  # a clear this soon after the caller spoke answers their voice
# Off-script turns (corpus ids with "-off-"): questions the FAQ does not list (issue 14).
OFFSCRIPT_MARK = "-off-"
TURN_KINDS = ("faq", "offscript")  # "faq": every scripted turn that is not off-script
OFFSCRIPT_E2E_TARGET_MS = 1000.0
_OFFER = re.compile(r"put you through|take a message|verbinden|nachricht aufnehmen", re.IGNORECASE)


def turn_kind(turn_id: str) -> str:
    """"offscript" for a corpus turn id that has the off-script mark, else "faq"."""
    return "offscript" if OFFSCRIPT_MARK in turn_id else "faq"


@dataclass
class CallRecord:
    """One bench call: the script, what the caller measured and what TOM recorded about it."""

    script: CallScript
    result: CallResult
    transcript: list[dict[str, Any]] = field(default_factory=list)  # role, text, turn, ...
    turns: list[dict[str, Any]] = field(default_factory=list)  # turn, intent, timings_ms
    barge_ins: list[dict[str, Any]] = field(default_factory=list)  # turn, reaction_ms, heard
    raw: list[Any] = field(default_factory=list)  # event dicts / API answers, for mojibake

    def spoken(self) -> list[CorpusTurn]:
        """The corpus turns the caller actually got to say, in order."""
        by_id = {t.id: t for t in self.script.turns}
        return [by_id[t.id] for t in self.result.turns if t.id in by_id]

    def lines(self, role: str) -> list[dict[str, Any]]:
        """TOM's lines of `role`; a caller line a later one joined (the caller went on after a
        pause, `joins`) is left out: its words are in that later line."""
        joined = {t["joins"] for t in self.transcript if t.get("joins") is not None}
        return [t for t in self.transcript if t.get("role") == role and t.get("text")
                and not (role == "caller" and t.get("turn") in joined)]

    def paired(self) -> list[tuple[CorpusTurn, dict[str, Any]]] | None:
        """Spoken turns paired with TOM's caller transcripts, when the counts agree."""
        spoken, heard = self.spoken(), self.lines("caller")
        return list(zip(spoken, heard, strict=True)) if len(spoken) == len(heard) else None


@dataclass
class Resources:
    cpu_percent: float | None = None
    peak_rss_mb: float | None = None
    source: str = "none"


@dataclass
class BenchReport:
    """Every figure of one bench run."""

    meta: dict[str, Any]
    records: list[CallRecord]
    resources: Resources = field(default_factory=Resources)
    log_mojibake: list[str] = field(default_factory=list)
    sweep: dict[str, Any] | None = None
    cost: dict[str, Any] | None = None  # tom.bench.cost.CallCost.to_dict() of a plain run
    # recorded callers: stock faster-whisper on the same audio ({"model", "decoding", "heard":
    # {script id: text}}), the baseline for TOM's accuracy
    stock: dict[str, Any] | None = None

    # --- figures ---------------------------------------------------------------------------------

    def stage(self, name: str) -> Summary:
        """One `timings_ms` key over every turn that has it as a number."""
        values = (_timing(t, name) for r in self.records for t in r.turns)
        return Summary.of(v for v in values if v is not None)

    def e2e(self) -> Summary:
        """Caller-side latency of turns TOM answered after the caller finished."""
        return caller_e2e(self.records)

    def talk_over(self) -> dict[str, int]:
        """Turns where TOM's audio arrived while the caller was still speaking (no barge-in)."""
        turns = [t for r in self.records for t in r.result.turns if not t.barged]
        return {"turns": sum(t.overlapped for t in turns), "of": len(turns)}

    def pauses(self) -> dict[str, Any] | None:
        """`--pauses`: of the turns with a hesitation inside a sentence, those where TOM took
        the hesitation for an end of turn (its reply began in it, `TurnResult.ended_at_pause`;
        the target), and those TOM talked over at another of their pauses (a sentence break,
        a comma: counted in `talk_over` too); None without pauses."""
        paused = [t for r in self.records for t in r.result.turns if t.paused and not t.barged]
        if not paused:
            return None
        ended = sum(t.ended_at_pause for t in paused)
        elsewhere = sum(t.overlapped and not t.ended_at_pause for t in paused)
        return {"ended": ended, "of": len(paused), "ended_pct": round(100 * ended / len(paused), 1),
                "target_pct": PAUSES_ENDED_PCT_TARGET, "talked_over_elsewhere": elsewhere}

    def false_barge_ins(self) -> dict[str, int]:
        """TOM dropped its playback (`clear`) while the caller was not speaking (its own echo,
        line noise); and interruptions the caller made that TOM did not stop for."""
        false = 0
        for r in self.records:
            said = [(t.speech_start_ns, t.speech_end_ns) for t in r.result.turns]
            said += [(b.speech_start_ns, b.speech_end_ns)  # a backchannel's pause is no
                     for b in r.result.backchannels]      # false barge-in
            spoken = [(a, b + CLEAR_GRACE_NS) for a, b in said if a is not None and b is not None]
            false += sum(1 for m in r.result.received if m.kind == "clear"
                         and not any(a <= m.t_ns <= b for a, b in spoken))
        missed = sum(1 for r in self.records for t in r.result.turns
                     if t.barged and t.clear_ns is None)
        return {"false": false, "missed": missed, "calls": len(self.records)}

    def backchannel_verdicts(self) -> list[backchannels.Verdict]:
        """What became of each backchannel the callers said (--backchannels)."""
        return [v for r in self.records for v in backchannels.judge(r.result, r.transcript)]

    def backchannel_figures(self) -> dict[str, Any] | None:
        """Backchannels played, TOM went on / stopped / answered them; None without any."""
        verdicts = self.backchannel_verdicts()
        return backchannels.figures(verdicts) if verdicts else None

    def greeting(self) -> Summary:
        return Summary.of(r.result.greeting_ms for r in self.records
                          if r.result.greeting_ms is not None)

    def barge_in(self) -> Summary:
        return Summary.of(t.barge_in_ms for r in self.records for t in r.result.turns
                          if t.barge_in_ms is not None)

    def barge_in_server(self) -> Summary:
        return Summary.of(b["reaction_ms"] for r in self.records for b in r.barge_ins
                          if isinstance(b.get("reaction_ms"), (int, float)))

    def word_errors(self) -> dict[str, WordErrors]:
        """Per language: TOM's caller transcripts against what the callers said, per call.

        Failed calls are left out: their failure is counted once, under failed calls.
        """
        out: dict[str, WordErrors] = {}
        for r in self.records:
            spoken = r.spoken()
            if not spoken or not r.result.ok:
                continue
            ref = " ".join(t.text for t in spoken)
            hyp = " ".join(t["text"] for t in r.lines("caller"))
            lang = r.script.language
            out[lang] = out.get(lang, WordErrors(0, 0)) + word_errors(ref, hyp, lang)
        return out

    def accuracy(self) -> float | None:
        total = sum(self.word_errors().values(), WordErrors(0, 0))
        return None if total.ref_words == 0 else max(0.0, 1.0 - total.wer)

    def stock_accuracy(self) -> dict[str, Any] | None:
        """TOM's accuracy beside stock faster-whisper's on the same calls (those that did not
        fail, as for TOM's own figure); None unless the callers were recordings."""
        if self.stock is None:
            return None
        heard: dict[str, str] = self.stock["heard"]
        tom = stock = WordErrors(0, 0)
        for r in self.records:
            spoken = r.spoken()
            if not spoken or not r.result.ok or r.script.id not in heard:
                continue
            ref = " ".join(t.text for t in spoken)
            tom += word_errors(ref, " ".join(t["text"] for t in r.lines("caller")))
            stock += word_errors(ref, heard[r.script.id])
        if not stock.ref_words:
            return None
        tom_acc, stock_acc = max(0.0, 1 - tom.wer), max(0.0, 1 - stock.wer)
        return {"tom": tom_acc, "stock": stock_acc, "gap_points": round(100 * (stock_acc - tom_acc), 2),
                "words": stock.ref_words, "model": self.stock["model"],
                "decoding": self.stock["decoding"]}

    def failures(self) -> list[dict[str, str]]:
        return [{"call_sid": r.result.call_sid, "script": r.script.id,
                 "failure": r.result.failure or ""} for r in self.records if not r.result.ok]

    def failed_pct(self) -> float:
        return 100.0 * len(self.failures()) / len(self.records) if self.records else 0.0

    def mojibake(self) -> dict[str, Any]:
        examples: list[str] = []

        def count(strings: list[str]) -> int:
            n = 0
            for s in strings:
                hits = mojibake.find_mojibake(s)
                n += len(hits)
                examples.extend(s[max(0, h.start - 20):h.start + 20] for h in hits)
            return n

        transcripts = count([t.get("text", "") for r in self.records for t in r.transcript])
        events = count([s for r in self.records for s in mojibake.iter_strings(r.raw)])
        logs = count(self.log_mojibake)
        return {"total": transcripts + events + logs, "transcripts": transcripts,
                "events": events, "logs": logs, "examples": examples[:10]}

    def intents(self) -> dict[str, Any]:
        """Expected intent vs TOM's `turn` event intent, for calls whose turns line up."""
        matched = total = 0
        for r in self.records:
            pairs = r.paired()
            if pairs is None:
                continue
            by_turn = {t.get("turn"): t.get("intent") for t in r.turns}
            for spoken, heard in pairs:
                if spoken.intent and by_turn.get(heard.get("turn")):
                    total += 1
                    matched += by_turn[heard.get("turn")] == spoken.intent
        return {"matched": matched, "total": total, "rate": matched / total if total else None}

    def facts(self) -> dict[str, Any]:
        """Required answer facts found in TOM's reply to that turn (or anywhere in the call)."""
        hit = total = 0
        misses: list[dict[str, str]] = []
        for r in self.records:
            replies = _replies(r)
            for turn in r.spoken():
                for fact in turn.facts:
                    total += 1
                    answer = replies.get(turn.id, " ".join(t["text"] for t in r.lines("assistant")))
                    if fact_in(fact, answer, turn.language):
                        hit += 1
                    else:
                        misses.append({"turn": turn.id, "fact": fact, "answer": answer[:200]})
        return {"hit": hit, "total": total, "rate": hit / total if total else None,
                "misses": misses[:20]}

    def e2e_by_kind(self) -> dict[str, Summary]:
        """Caller-side e2e of FAQ/flow turns and of off-script turns, apart."""
        return summaries_by(((turn_kind(t.id), t.e2e_ms) for r in self.records
                             for t in r.result.turns if t.e2e_ms is not None and not t.overlapped),
                            TURN_KINDS)

    def stage_by_kind(self, name: str) -> dict[str, Summary]:
        """One of TOM's turn timings, FAQ/flow and off-script turns apart (turns line up)."""
        pairs: list[tuple[str, float]] = []
        for r in self.records:
            ids = {heard.get("turn"): spoken.id for spoken, heard in (r.paired() or [])}
            for t in r.turns:
                value = _timing(t, name)
                if value is not None and t.get("turn") in ids:
                    pairs.append((turn_kind(ids[t.get("turn")]), value))
        return summaries_by(pairs, TURN_KINDS)

    def offscript(self) -> dict[str, Any]:
        """Off-script replies: grounded (no claim the demo profile does not back, and the
        turn's facts when it lists some) and how many made the honest offer.

        The corpus is written for the demo profiles, so their claim checker judges the replies.
        """
        grounded = offered = total = 0
        misses: list[dict[str, Any]] = []
        for r in self.records:
            replies = _replies(r)
            for turn in r.spoken():
                if turn_kind(turn.id) != "offscript" or turn.id not in replies:
                    continue
                total += 1
                answer = replies[turn.id]
                claims = _claims(answer, turn.language)
                ok = not claims and all(fact_in(f, answer, turn.language) for f in turn.facts)
                grounded += ok
                offered += bool(_OFFER.search(answer))
                if not ok:
                    misses.append({"turn": turn.id, "answer": answer[:200], "claims": claims})
        return {"turns": total, "grounded": grounded, "offered": offered,
                "rate": grounded / total if total else None, "misses": misses[:20]}

    def checks(self) -> list[dict[str, Any]]:
        """Each target: value, target, ok (None when the figure was not measured)."""
        rows = [(f"{name} p95 ms", self.stage(name).p95, target, "<=")
                for name, target in STAGE_TARGETS_MS.items()]
        rows += [("e2e p95 ms (caller)", self.e2e().p95, E2E_TARGET_MS, "<="),
                 ("e2e p95 ms (off-script)", self.e2e_by_kind()["offscript"].p95,
                  OFFSCRIPT_E2E_TARGET_MS, "<="),
                 ("accuracy", self.accuracy(), ACCURACY_TARGET, ">="),
                 ("mojibake", self.mojibake()["total"], MOJIBAKE_TARGET, "<="),
                 ("failed calls %", self.failed_pct(), FAILED_PCT_TARGET, "<")]
        pauses = self.pauses()
        if pauses is not None:
            rows.append(("pauses that ended the turn %", pauses["ended_pct"],
                         PAUSES_ENDED_PCT_TARGET, "<"))
        bc = self.backchannel_figures()
        if bc is not None:
            rows.append(("backchannels TOM went on", bc["rate"], backchannels.TARGET_WENT_ON,
                         ">="))
        out = []
        for name, value, target, op in rows:
            ok = None if value is None else (
                value <= target if op == "<=" else value >= target if op == ">=" else value < target)
            out.append({"name": name, "value": value, "target": target, "op": op, "ok": ok})
        return out

    def passed(self) -> bool:
        return all(c["ok"] is not False for c in self.checks())

    def to_dict(self) -> dict[str, Any]:
        stages = {}
        for name in STAGES:
            key = "e2e_server" if name == "e2e" else name
            stages[key] = {**self.stage(name).to_dict(), "target_ms": STAGE_TARGETS_MS.get(name)}
        by_lang = {lang: {"accuracy": None if we.ref_words == 0 else max(0.0, 1 - we.wer),
                          "words": we.ref_words, "errors": we.errors}
                   for lang, we in self.word_errors().items()}
        total = sum(self.word_errors().values(), WordErrors(0, 0))
        failures = self.failures()
        return {
            "meta": self.meta,
            "calls": {"total": len(self.records), "failed": len(failures),
                      "failed_pct": round(self.failed_pct(), 2), "target_pct": FAILED_PCT_TARGET,
                      "failures": failures},
            "stages": stages,
            "e2e": {**self.e2e().to_dict(), "target_ms": E2E_TARGET_MS},
            "talk_over": self.talk_over(),
            "pauses": self.pauses(),
            "barge_in_errors": self.false_barge_ins(),
            "backchannels": self.backchannel_figures(),
            "greeting": self.greeting().to_dict(),
            "barge_in": self.barge_in().to_dict(),
            "barge_in_server": self.barge_in_server().to_dict(),
            "accuracy": {"value": self.accuracy(), "target": ACCURACY_TARGET,
                         "words": total.ref_words, "errors": total.errors,
                         "by_language": by_lang, "recorded": self.stock_accuracy()},
            "intents": self.intents(),
            "facts": self.facts(),
            "by_kind": {kind: {"e2e": self.e2e_by_kind()[kind].to_dict(),
                               "e2e_server": self.stage_by_kind("e2e")[kind].to_dict(),
                               "llm_first_token":
                                   self.stage_by_kind("llm_first_token")[kind].to_dict()}
                        for kind in TURN_KINDS},
            "offscript": self.offscript(),
            "language_id": language_id(self.records),
            "mojibake": {**self.mojibake(), "target": MOJIBAKE_TARGET},
            "resources": {"cpu_percent": self.resources.cpu_percent,
                          "peak_rss_mb": self.resources.peak_rss_mb,
                          "source": self.resources.source},
            "checks": self.checks(),
            "per_call": [_call_detail(r) for r in self.records],
            "passed": self.passed(),
            "sweep": self.sweep,
            "cost": self.cost,
        }


def _claims(answer: str, language: str) -> list[str]:
    """What the claim checker of the demo profile in `language` finds in a reply."""
    from tom.conversation.grounding import grounding_for
    from tom.conversation.profile import load_profile

    if language not in _DEMO:
        _DEMO[language] = load_profile(None, language)
    checker = grounding_for(_DEMO[language])[1]
    return [str(c) for s in re.split(r"(?<=[.!?])\s+", answer) for c in checker.unsupported(s)]


_DEMO: dict[str, Any] = {}  # the demo profiles, loaded on first use


def _timing(turn: dict[str, Any], name: str) -> float | None:
    """`turn["timings_ms"][name]` when it is a number; None when absent or odd."""
    timings = turn.get("timings_ms")
    value = timings.get(name) if isinstance(timings, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return float(value)


def caller_e2e(records: list[CallRecord]) -> Summary:
    """e2e as the caller hears it; turns TOM talked over are left out (their e2e is noise)."""
    return Summary.of(t.e2e_ms for r in records for t in r.result.turns
                      if t.e2e_ms is not None and not t.overlapped)


def _call_detail(r: CallRecord) -> dict[str, Any]:
    """One call as the caller measured it and as TOM heard it (for reading a bad run)."""
    def ms(v: float | None) -> float | None:
        return None if v is None else round(v, 1)

    return {"script": r.script.id, "call_sid": r.result.call_sid, "ok": r.result.ok,
            "failure": r.result.failure, "closed_by": r.result.closed_by,
            "greeting_ms": ms(r.result.greeting_ms),
            "turns": [{"id": t.id, "e2e_ms": ms(t.e2e_ms), "barged": t.barged,
                       "barge_in_ms": ms(t.barge_in_ms), "overlapped": t.overlapped,
                       "paused": t.paused, "ended_at_pause": t.ended_at_pause}
                      for t in r.result.turns],
            "backchannels": [{"id": b.id, "phrase": b.text, "at_ms": b.at_ms,
                              "played": b.played} for b in r.result.backchannels],
            "transcript": [{"role": t.get("role"), "turn": t.get("turn"), "text": t.get("text"),
                            "interrupted": t.get("interrupted"), "joins": t.get("joins")}
                           for t in r.transcript],
            "intents": [t.get("intent") for t in r.turns]}


def _replies(record: CallRecord) -> dict[str, str]:
    """Corpus turn id → TOM's reply text (assistant lines with the same turn number)."""
    pairs = record.paired()
    if pairs is None:
        return {}
    out = {}
    for spoken, heard in pairs:
        lines = [t["text"] for t in record.lines("assistant") if t.get("turn") == heard.get("turn")]
        if lines:
            out[spoken.id] = " ".join(lines)
    return out


def _fact_form(text: str, language: str) -> tuple[str, str]:
    """Normalised words with spaces around, and all digits run together (for phone numbers)."""
    words = normalize(text, language)
    return " " + " ".join(words) + " ", "".join(w for w in words if w.isdigit())


def fact_in(fact: str, answer: str, language: str = "en") -> bool:
    """Whether `answer` states `fact`, after WER normalisation ("fifteen" matches "15")."""
    fact_words, fact_digits = _fact_form(fact, language)
    answer_words, answer_digits = _fact_form(answer, language)
    if len(fact_digits) >= 5 and fact_words.replace(" ", "").isdigit():
        return fact_digits in answer_digits  # a phone number, however it was grouped
    return fact_words in answer_words
