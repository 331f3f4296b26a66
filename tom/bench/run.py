"""One bench run: plan calls from the corpus, voice them, place them, gather the figures.

Caller audio is synthesised before any call starts, so piper never competes with TOM for the
CPU while it is being measured. Calls run at real-time pace, `concurrency` at a time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import structlog

from tom.bench import backchannels
from tom.bench.babble import make_babble
from tom.bench.caller import CallerTurn, Timeouts, new_sid, place_call
from tom.bench.corpus import CallScript, Corpus, CorpusError, CorpusTurn
from tom.bench.cost import CallCost
from tom.bench.line import LineEcho
from tom.bench.recordings import (
    SOURCE,
    RecordedVoice,
    find_recordings,
    recorded_corpus,
    stock_transcripts,
)
from tom.bench.report import BenchReport, CallRecord, Resources, caller_e2e
from tom.bench.synth import CALLER_STYLES, CallerVoice, LineOptions, Speaker, VoiceStyle
from tom.bench.targets import InProcessTarget, RemoteTarget, bench_settings, temp_data_dir
from tom.config import Settings
from tom.monitor.events import QUEUE_KEYS

log = structlog.get_logger(__name__)

SWEEP_LEVELS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
STAGGER_S = 0.3  # calls of the first wave start this far apart, as callers do


@dataclass
class BenchOptions:
    """Everything `tom bench` was asked to do."""

    url: str | None = None
    token: str = ""
    calls: int = 4
    concurrency: int = 1
    language: str = "en"
    snr_db: float | None = None
    pause_ms: int = 0  # a pause this long inside every longer caller utterance (--pauses)
    phone_path: bool = True
    sweep: bool = False
    sweep_levels: tuple[int, ...] = SWEEP_LEVELS
    sweep_all: bool = False  # measure every level, not only up to the first that did not hold
    cache_dir: Path | None = None
    expect_greeting: bool = True
    timeouts: Timeouts = field(default_factory=Timeouts)
    echo: LineEcho | None = None  # the line sends TOM's voice back (--line echo:-25dB@120ms)
    callers: str = "piper"  # "recorded": real human prompts instead of synthesised callers
    recordings_dir: Path | None = None
    backchannels: bool = False  # the caller says "okay", "mhm" while TOM answers
    babble_snr_db: float | None = None  # other voices talking under the caller at this SNR


@dataclass
class PlannedCall:
    script: CallScript
    call_sid: str
    turns: list[CallerTurn]
    echo: LineEcho | None = None


Progress = Callable[[CallRecord], None]


def plan_calls(corpus: Corpus, n: int, language: str, voice: Speaker,
               options: BenchOptions, offset: int = 0) -> list[PlannedCall]:
    """n calls cycling through the scripts; caller i gets voice style i and noise seed i
    (and, with --backchannels, backchannel plan i; with --babble, babble seed i*100+k)."""
    line = LineOptions(phone_path=options.phone_path, snr_db=options.snr_db,
                       pause_ms=options.pause_ms, babble_snr_db=options.babble_snr_db)
    planned = []
    for i, script in enumerate(schedule(corpus, n, language), start=offset):
        style = CALLER_STYLES[i % len(CALLER_STYLES)]
        slots = {s.after: s for s in backchannels.plan(script, i)} if options.backchannels else {}
        turns = []
        for k, t in enumerate(script.turns):
            if (slot := slots.get(k - 1)) is not None:
                turns.append(_backchannel(voice, slot, script.language, style, line, i * 100 + k))
            seed = i * 100 + k
            babble = _babble(corpus, voice, t, seed) if options.babble_snr_db is not None else None
            spoken = voice.say(t.text, t.language, style, line, seed=seed, babble=babble)
            turns.append(CallerTurn(
                audio=spoken.pcm, text=t.text, id=t.id, language=t.language, intent=t.intent,
                barge_in=t.id in script.barge_in, barge_in_after_ms=script.barge_in_after_ms,
                may_end_call=t.may_end_call, speech_start=spoken.speech_start,
                speech_end=spoken.speech_end, pause_at=spoken.pause_at,
                pause_len_ms=options.pause_ms))
        planned.append(PlannedCall(script, new_sid("CA"), turns, options.echo))
    return planned


def _backchannel(voice: Speaker, slot: backchannels.Slot, language: str, style: VoiceStyle,
                 line: LineOptions, seed: int) -> CallerTurn:
    """The caller's "okay" into TOM's reply, in the caller's own voice and on the same line
    (no babble: it is a short sound, said between two utterances that have theirs)."""
    spoken = voice.say(slot.phrase.spoken, language, style, line, seed=seed + 50)
    return CallerTurn(audio=spoken.pcm, text=slot.phrase.label, id=f"bc-{slot.after + 1}",
                      language=language, barge_in_after_ms=slot.at_ms, expect_reply=False,
                      speech_start=spoken.speech_start, speech_end=spoken.speech_end,
                      backchannel=True)


def _babble(corpus: Corpus, voice: Speaker, turn: CorpusTurn, seed: int) -> np.ndarray:
    """Other callers' texts of the same language, spoken at once, to mix under `turn`."""
    pool = [t.text for t in corpus.turns.values() if t.language == turn.language]
    try:
        return make_babble(voice, pool, turn.text, turn.language, seed)
    except ValueError as exc:
        raise CorpusError(f"--babble: {exc}") from None


def schedule(corpus: Corpus, n: int, language: str) -> list[CallScript]:
    """n scripts of `language`; "mixed": German and English callers taking turns."""
    if language != "mixed":
        return corpus.schedule(n, language)
    german, english = corpus.schedule(n, "de"), corpus.schedule(n, "en")
    return [(german if i % 2 == 0 else english)[i // 2] for i in range(n)]


async def run_calls(target: InProcessTarget | RemoteTarget, planned: list[PlannedCall],
                    concurrency: int, timeouts: Timeouts, http: aiohttp.ClientSession,
                    progress: Progress | None = None) -> list[CallRecord]:
    """Place the calls, at most `concurrency` at once, and collect TOM's view of each."""
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int, call: PlannedCall) -> CallRecord:
        async with gate:
            if i < concurrency:
                await asyncio.sleep(i * STAGGER_S)
            result = await place_call(target.url, call.turns, token=target.token,
                                      call_sid=call.call_sid,
                                      expect_greeting=target.expect_greeting,
                                      timeouts=timeouts, session=http, echo=call.echo)
        info = await target.call_info(call.call_sid)
        record = CallRecord(call.script, result, info.transcript, info.turns, info.barge_ins,
                            info.raw)
        if progress:
            progress(record)
        return record

    return list(await asyncio.gather(*(one(i, c) for i, c in enumerate(planned))))


async def measured_calls(target: InProcessTarget | RemoteTarget, planned: list[PlannedCall],
                         concurrency: int, timeouts: Timeouts, http: aiohttp.ClientSession,
                         progress: Progress | None = None) -> tuple[list[CallRecord], CallCost]:
    """`run_calls`, and what the calls cost the box in CPU and memory meanwhile."""
    async with target.meter().measure(concurrency) as cost:
        records = await run_calls(target, planned, concurrency, timeouts, http, progress)
    cost.call_minutes = sum(r.result.duration_s for r in records) / 60
    return records, cost


async def bench(corpus: Corpus, options: BenchOptions, settings: Settings | None = None,
                progress: Progress | None = None) -> BenchReport:
    """Run the whole bench and return its report (the caller prints or saves it)."""
    voice: Speaker = CallerVoice(options.cache_dir)
    if options.callers == "recorded":
        corpus, voice = _recorded(options)
    schedule(corpus, 1, options.language)  # raises CorpusError when there is nothing to call
    languages = ([lang for lang in ("en", "de") if corpus.calls_for(lang)]
                 if options.language == "all" else [options.language])
    if options.url is None and options.sweep and len(languages) > 1:
        raise CorpusError("--sweep in-process needs one language: use --language en or de")
    started, t0 = time.time(), time.monotonic()
    records: list[CallRecord] = []
    resources: list[Resources] = []
    log_bad: list[str] = []
    sweep: dict[str, Any] | None = None
    costs: list[CallCost] = []
    async with aiohttp.ClientSession() as http:
        if options.url:
            target = RemoteTarget(options.url, options.token, http, options.expect_greeting)
            async with target.running():
                records, sweep, costs = await _run(target, corpus, options, options.language,
                                                   voice, http, progress)
            resources.append(target.resources())
        else:
            base = settings or Settings.load()
            for lang in languages:
                peak = max(options.sweep_levels) if options.sweep else options.concurrency
                with temp_data_dir() as data_dir:
                    local = InProcessTarget(bench_settings(base, lang, peak, data_dir))
                    planned_first = await asyncio.to_thread(
                        plan_calls, corpus, _first_count(options), lang, voice, options)
                    async with local.running():
                        recs, sweep, level_costs = await _run(local, corpus, options, lang,
                                                              voice, http, progress,
                                                              planned_first)
                    records += recs
                    costs += level_costs
                    resources.append(local.resources())
                    log_bad += local.log_mojibake()
    meta = {"target": options.url or "in-process", "language": options.language,
            "calls": options.calls, "concurrency": options.concurrency,
            "noise_snr_db": options.snr_db, "phone_path": options.phone_path,
            "pause_ms": options.pause_ms or None,
            "line_echo": str(options.echo) if options.echo else None,
            "backchannels": options.backchannels or None,
            "babble_snr_db": options.babble_snr_db,
            "started_at": started, "duration_s": round(time.monotonic() - t0, 2),
            "voice": voice.model_path.name,
            "german_voice": "espeak-ng with MBROLA de2/de1/de5 (not TOM's own Pico voice)"}
    if options.callers == "recorded":
        meta["callers"] = SOURCE
        meta["german_voice"] = None
    report = BenchReport(meta, records, _merge(resources), log_bad, sweep)
    report.cost = costs[-1].to_dict() if len(costs) == 1 else None
    if options.callers == "recorded":
        report.stock = await _stock(corpus, options, voice, settings)
    return report


def _recorded(options: BenchOptions) -> tuple[Corpus, RecordedVoice]:
    if options.language != "en":
        raise CorpusError("--callers recorded: the recorded prompts are English; use "
                          "--language en")
    if options.sweep:
        raise CorpusError("--callers recorded measures what TOM hears, not capacity: leave "
                          "out --sweep")
    if options.backchannels:
        raise CorpusError("--backchannels needs synthesised callers (the recordings say no "
                          "\"okay\" or \"mhm\"): leave out --callers recorded")
    recordings = find_recordings(options.recordings_dir)
    return recorded_corpus(recordings, options.calls), RecordedVoice(recordings)


async def _stock(corpus: Corpus, options: BenchOptions, voice: Speaker,
                 settings: Settings | None) -> dict[str, Any]:
    """Stock faster-whisper on the same audio (planned again: same scripts, same seeds), after
    the calls, so it never competes with TOM for the CPU while TOM is measured."""
    from tom.models import resolve_stt

    planned = plan_calls(corpus, options.calls, "en", voice, options)
    model = resolve_stt(settings or Settings.load())
    heard = await asyncio.to_thread(
        stock_transcripts, [(p.script.id, [t.audio for t in p.turns]) for p in planned],
        model.path)
    return {"model": model.name, "decoding": "faster-whisper defaults (beam 5)",
            "heard": heard}


def _first_count(options: BenchOptions) -> int:
    return max(options.calls, options.sweep_levels[0]) if options.sweep else options.calls


async def _run(target: InProcessTarget | RemoteTarget, corpus: Corpus, options: BenchOptions,
               language: str, voice: Speaker, http: aiohttp.ClientSession,
               progress: Progress | None, planned: list[PlannedCall] | None = None
               ) -> tuple[list[CallRecord], dict[str, Any] | None, list[CallCost]]:
    if planned is None:
        planned = await asyncio.to_thread(plan_calls, corpus, _first_count(options), language,
                                          voice, options)
    if not options.sweep:
        records, cost = await measured_calls(target, planned, options.concurrency,
                                             options.timeouts, http, progress)
        return records, None, [cost]
    records, sweep = await _sweep(target, corpus, options, language, voice, http, progress,
                                  planned)
    return records, sweep, []


async def _sweep(target: InProcessTarget | RemoteTarget, corpus: Corpus, options: BenchOptions,
                 language: str, voice: Speaker, http: aiohttp.ClientSession,
                 progress: Progress | None, first: list[PlannedCall]
                 ) -> tuple[list[CallRecord], dict[str, Any]]:
    """Raise concurrency until p95 e2e passes 1 s (or calls fail); keep the last that held.

    With `sweep_all` every level is measured; the largest that held counts only if every
    smaller level held too.
    """
    levels: list[dict[str, Any]] = []
    best: list[CallRecord] = []
    max_held = 0
    offset = 0
    for level in options.sweep_levels:
        n = max(options.calls, level)
        planned = first if level == options.sweep_levels[0] else await asyncio.to_thread(
            plan_calls, corpus, n, language, voice, options, offset)
        offset += n
        records, cost = await measured_calls(target, planned, level, options.timeouts, http,
                                             progress)
        e2e = caller_e2e(records)
        failed = 100.0 * sum(not r.result.ok for r in records) / len(records)
        held = e2e.p95 is not None and e2e.p95 <= 1000.0 and failed < 2.0
        part = BenchReport({}, records)
        levels.append({"concurrency": level, "calls": n, "e2e_p50": e2e.p50,
                       "e2e_p95": e2e.p95, "failed_pct": round(failed, 2), "held": held,
                       "queue_p95_ms": {key: part.stage(key).p95 for key in QUEUE_KEYS.values()},
                       "barge_in_p95_ms": part.barge_in_server().p95,
                       "cost": cost.to_dict()})
        log.info("bench_sweep_level", concurrency=level, e2e_p95=e2e.p95, failed_pct=failed,
                 held=held)
        if not held:
            best = best or records
            if options.sweep_all:
                continue
            break
        if all(lv["held"] for lv in levels):  # the largest of an unbroken run from the start
            best, max_held = records, level
    return best, {"levels": levels, "max_held": max_held,
                  "report_level": max_held or options.sweep_levels[0]}


def _merge(parts: list[Resources]) -> Resources:
    if not parts:
        return Resources()
    cpu = [p.cpu_percent for p in parts if p.cpu_percent is not None]
    rss = [p.peak_rss_mb for p in parts if p.peak_rss_mb is not None]
    return Resources(sum(cpu) / len(cpu) if cpu else None, max(rss) if rss else None,
                     parts[0].source)
