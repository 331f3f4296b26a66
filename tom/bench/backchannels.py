"""`tom bench --backchannels`: the caller says "okay", "mhm", "I see" while TOM answers.

Planning: after the greeting and after each scripted turn TOM answers (not the last one, not
one that may end the call, not one a scripted interruption cuts short) the caller says one
backchannel, a seeded 0.8-2.5 s into TOM's reply, and the script then goes on. A backchannel
is spoken only while TOM is audibly talking; one that finds TOM already quiet is not played.

Judging uses what TOM recorded about the call (its transcript, as the in-process event bus and
`/api/calls/{id}` give it for `--url` alike): the first assistant line that ended after the
backchannel began is the reply it was said into. TOM went on when that line is not
`interrupted` (it finished, or paused and resumed); it stopped when the line is. A caller line
that TOM recorded between the backchannel and the caller's next scripted turn means the
backchannel was answered as a turn of its own. The caller side adds when TOM paused (a
`clear` while the backchannel was spoken): a pause alone is no failure.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tom.bench.caller import BackchannelResult, CallResult
from tom.bench.corpus import CallScript

TARGET_WENT_ON = 0.90  # issue 13: TOM finishes or resumes its sentence in ≥ 90 % of cases
AT_MS = (800, 2500)  # how far into TOM's reply the caller speaks
CLEAR_GRACE_NS = 1_500_000_000  # a clear this soon after the backchannel answers it


@dataclass(frozen=True, slots=True)
class Phrase:
    """A backchannel: `label` is what the report shows, `spoken` what the voice is given.

    piper and espeak-ng spell "Mhm." out as letters, so the hum is given as phonemes (piper's
    `[[ ]]`) or as an interjection espeak-ng voices as one ("Hm-hm.").
    """

    label: str
    spoken: str


PHRASES: Mapping[str, tuple[Phrase, ...]] = {
    "en": (Phrase("okay", "Okay."), Phrase("mhm", "[[ mːhˈmː ]]"), Phrase("yeah", "Yeah."),
           Phrase("right", "Right."), Phrase("uh huh", "Uh huh."), Phrase("I see", "I see.")),
    "de": (Phrase("ja", "Ja."), Phrase("genau", "Genau."), Phrase("mhm", "Hm-hm."),
           Phrase("okay", "Okay.")),
}


@dataclass(frozen=True, slots=True)
class Slot:
    """One planned backchannel: said into TOM's reply to scripted turn `after` (-1: the
    greeting), `at_ms` after that reply's first audio."""

    after: int
    phrase: Phrase
    at_ms: int


def plan(script: CallScript, seed: int) -> list[Slot]:
    """The backchannels of one call; the same script and seed give the same plan."""
    rng = random.Random(f"backchannels/{seed}")
    phrases = PHRASES.get(script.language, PHRASES["en"])
    turns = script.turns
    slots = []
    for after in range(-1, len(turns) - 1):
        if after >= 0 and turns[after].may_end_call:
            continue  # TOM may hang up after it: no reply to talk into
        if turns[after + 1].id in script.barge_in:
            continue  # the caller cuts this reply short anyway
        phrase = phrases[rng.randrange(len(phrases))]
        slots.append(Slot(after, phrase, rng.randrange(AT_MS[0], AT_MS[1] + 1, 10)))
    return slots


@dataclass(frozen=True, slots=True)
class Verdict:
    """What became of one backchannel; went_on None: TOM recorded no reply it fell into."""

    id: str
    phrase: str
    played: bool
    call_sid: str = ""
    paused: bool = False
    went_on: bool | None = None
    answered: bool = False


def judge(result: CallResult, transcript: Sequence[Mapping[str, Any]]) -> list[Verdict]:
    """Each backchannel of a call against TOM's transcript (lines with role, interrupted and
    wall, the Unix time TOM recorded the line at)."""
    lines = sorted((t for t in transcript if isinstance(t.get("wall"), (int, float))),
                   key=lambda t: float(t["wall"]))
    return [_verdict(b, result, lines) for b in result.backchannels]


def _verdict(b: BackchannelResult, result: CallResult,
             lines: list[Mapping[str, Any]]) -> Verdict:
    if not b.played or b.speech_start_ns is None or b.speech_end_ns is None:
        return Verdict(b.id, b.text, played=False, call_sid=result.call_sid)
    start, end = b.speech_start_ns, b.speech_end_ns
    paused = any(m.kind == "clear" and start <= m.t_ns <= end + CLEAR_GRACE_NS
                 for m in result.received)
    began = result.wall(start)
    reply = next((t for t in lines if t.get("role") == "assistant"
                  and float(t["wall"]) >= began), None)
    went_on = None if reply is None else not reply.get("interrupted", False)
    nxt = result.turns[b.before_turn] if b.before_turn < len(result.turns) else None
    until = (result.wall(nxt.speech_start_ns) if nxt is not None and nxt.speech_start_ns
             else float("inf"))
    answered = any(t.get("role") == "caller" and began <= float(t["wall"]) < until
                   for t in lines)
    return Verdict(b.id, b.text, True, result.call_sid, paused, went_on, answered)


def summary(verdicts: Iterable[Verdict]) -> dict[str, Any]:
    """Counts over verdicts; `rate` is went on / played (of those TOM recorded a reply for)."""
    vs = list(verdicts)
    played = [v for v in vs if v.played]
    known = [v for v in played if v.went_on is not None]
    went_on = sum(1 for v in known if v.went_on)
    return {"planned": len(vs), "played": len(played),
            "paused": sum(v.paused for v in played), "went_on": went_on,
            "stopped": len(known) - went_on, "answered": sum(v.answered for v in played),
            "unknown": len(played) - len(known),
            "rate": went_on / len(known) if known else None}


def figures(verdicts: Sequence[Verdict]) -> dict[str, Any]:
    """The `--json` block: totals against the target, per phrase, and each backchannel."""
    phrases = sorted({v.phrase for v in verdicts})
    return {**summary(verdicts), "target": TARGET_WENT_ON,
            "by_phrase": {p: summary(v for v in verdicts if v.phrase == p) for p in phrases},
            "judged_by": "TOM's call transcript (assistant line interrupted or not; caller "
                         "lines between the backchannel and the next scripted turn); "
                         "'paused' is the caller's view (a clear while it spoke)",
            "each": [{"call_sid": v.call_sid, "id": v.id, "phrase": v.phrase, "played": v.played, "paused": v.paused,
                      "went_on": v.went_on, "answered": v.answered} for v in verdicts]}
