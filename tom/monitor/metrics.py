"""Prometheus metrics, fed by the event bus.

`Metrics` owns its own `CollectorRegistry` so several apps (or tests) in one process never
collide. Labels carry only bounded, non-personal values: no caller numbers, no text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from tom.monitor.cpu import stage_cpu_seconds
from tom.monitor.events import (
    OUTCOMES,
    QUEUE_KEYS,
    BargeIn,
    CallEnded,
    CallError,
    CallStarted,
    Event,
    Outcome,
    TurnTimed,
)

log = structlog.get_logger(__name__)

# A caller expects an answer within about a second; buckets resolve 0–2 s finely.
LATENCY_BUCKETS = (.025, .05, .075, .1, .15, .2, .3, .4, .5, .75, 1.0, 1.5, 2.0, 3.0, 5.0)

# `turn` timings_ms keys with a compute histogram of their own (tom_<key>_seconds).
TURN_STAGES = ("vad_wait", "stt", "llm_first_token", "tts_first_audio", "e2e")
# `turn` timings_ms queue-wait key -> `stage` label of tom_stage_queue_seconds.
QUEUE_STAGES: dict[str, str] = {key: key.removesuffix("_queue") for key in QUEUE_KEYS.values()}
OTHER = "other"
_LABEL_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class BoundedLabel:
    """Keeps a label's value set small: known values pass, others up to `limit`, then "other".

    A typo or an unexpected value must never create an unbounded number of time series.
    """

    def __init__(self, known: tuple[str, ...] = (), limit: int = 16) -> None:
        self._known = frozenset(known)
        self._seen: set[str] = set()
        self._limit = limit

    def __call__(self, value: object) -> str:
        text = str(value).strip().lower() if value is not None else ""
        if text in self._known:
            return text
        if not _LABEL_RE.match(text):
            return OTHER
        if text in self._seen:
            return text
        if len(self._seen) >= self._limit:
            return OTHER
        self._seen.add(text)
        return text


class Metrics:
    """All of TOM's Prometheus series; register with `bus.listen(metrics.on_event)`."""

    def __init__(self, registry: CollectorRegistry | None = None, *,
                 process_metrics: bool = True) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        reg = self.registry
        if process_metrics:
            ProcessCollector(registry=reg)
            PlatformCollector(registry=reg)

        def hist(name: str, doc: str) -> Histogram:
            return Histogram(name, doc, registry=reg, buckets=LATENCY_BUCKETS)

        self.stage_seconds: dict[str, Histogram] = {
            "vad_wait": hist("tom_vad_wait_seconds",
                             "End of caller speech until the turn was declared over (VAD wait)."),
            "stt": hist("tom_stt_seconds", "Speech-to-text time for one caller turn."),
            "llm_first_token": hist("tom_llm_first_token_seconds",
                                    "LLM request until its first token."),
            "tts_first_audio": hist("tom_tts_first_audio_seconds",
                                    "First sentence to TTS until its first audio."),
            "e2e": hist("tom_e2e_seconds",
                        "End of caller speech until the first reply frame went out."),
        }
        self.stage_queue_seconds = Histogram(
            "tom_stage_queue_seconds",
            "Wait for a stage's worker thread before its compute started (one per stage).",
            ("stage",), registry=reg, buckets=LATENCY_BUCKETS)
        for stage in QUEUE_STAGES.values():  # every stage's series exists from the start
            self.stage_queue_seconds.labels(stage=stage)
        self.barge_in_reaction = hist(
            "tom_barge_in_reaction_seconds",
            "Caller speech detected during playback until playback stopped.")
        self.calls = Counter("tom_calls", "Finished calls by transport and outcome.",
                             ("transport", "outcome"), registry=reg)
        self.turns = Counter("tom_turns", "Completed caller turns.", registry=reg)
        self.barge_ins = Counter("tom_barge_ins", "Caller interrupted TOM.", registry=reg)
        self.errors = Counter("tom_errors", "Errors by kind.", ("kind",), registry=reg)
        self.calls_rejected = Counter("tom_calls_rejected",
                                      "Calls refused because all call slots were busy.",
                                      registry=reg)
        self.redis_dropped = Counter("tom_redis_dropped",
                                     "Events not written to Redis (slow, down or queue full).",
                                     registry=reg)
        self.active_calls = Gauge("tom_active_calls", "Calls in progress.", registry=reg)
        self.model_load = Gauge("tom_model_load_seconds", "Time to load each stage's model.",
                                ("stage",), registry=reg)
        self._transport = BoundedLabel(("twilio", "audiosocket", "local", "browser", "sip"))
        self._outcome = BoundedLabel(OUTCOMES, limit=0)
        self._error_kind = BoundedLabel(limit=32)
        self._stage = BoundedLabel(("vad", "stt", "llm", "tts"), limit=8)
        self._active: dict[str, str] = {}  # call_id -> transport label
        self._workers = _WorkerCollector(dict)
        reg.register(self._workers)

    # -- event handling -------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Synchronous bus listener; an event with odd values is logged, never raised."""
        try:
            match event:
                case CallStarted(call_id=call_id, transport=transport):
                    self._active[call_id] = self._transport(transport)
                    self.active_calls.set(len(self._active))
                case CallEnded():
                    self._on_call_ended(event)
                case TurnTimed(timings_ms=timings):
                    self._on_turn(timings)
                case BargeIn(reaction_ms=reaction_ms):
                    self.barge_ins.inc()
                    self._observe(self.barge_in_reaction, reaction_ms)
                case CallError(kind=kind):
                    self.errors.labels(kind=self._error_kind(kind)).inc()
        except Exception:
            log.warning("metrics could not use event", type=str(event.type),
                        call_id=event.call_id, exc_info=True)

    def _on_call_ended(self, event: CallEnded) -> None:
        transport = self._active.pop(event.call_id, None)
        if transport is None:
            transport = self._transport(event.transport or "unknown")
        outcome = self._outcome(event.outcome)
        self.calls.labels(transport=transport, outcome=outcome).inc()
        if outcome == Outcome.BUSY:
            self.calls_rejected.inc()
        self.active_calls.set(len(self._active))

    def _on_turn(self, timings: object) -> None:
        self.turns.inc()
        if not isinstance(timings, Mapping):
            return
        for stage, hist in self.stage_seconds.items():
            self._observe(hist, timings.get(stage))
        for key, stage in QUEUE_STAGES.items():
            self._observe(self.stage_queue_seconds.labels(stage=stage), timings.get(key))

    @staticmethod
    def _observe(hist: Histogram, ms: object) -> None:
        seconds = _seconds(ms)
        if seconds is not None:
            hist.observe(seconds)

    # -- direct setters -------------------------------------------------------------------

    def set_model_load(self, stage: str, seconds: float) -> None:
        """Record how long loading `stage`'s model (vad, stt, llm, tts) took."""
        self.model_load.labels(stage=self._stage(stage)).set(float(seconds))

    def count_redis_dropped(self, n: int = 1) -> None:
        self.redis_dropped.inc(n)

    def count_rejected(self) -> None:
        """For a caller that refuses a call without emitting `call_ended` outcome busy."""
        self.calls_rejected.inc()

    def watch_workers(self, load: Callable[[], Mapping[str, WorkerLoad]]) -> None:
        """Export each stage's CPU time and queue length (tom.monitor.cpu), read at scrape time."""
        self._workers.load = load

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type, for GET /metrics."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _seconds(ms: object) -> float | None:
    """Milliseconds to seconds; None for missing, non-numeric or negative values."""
    if isinstance(ms, bool) or not isinstance(ms, (int, float)) or ms != ms or ms < 0:
        return None
    return float(ms) / 1000.0


class WorkerLoad(Protocol):
    """What a worker reports about itself (tom.engine.workers.Worker fits)."""

    def queued(self) -> int: ...


class _WorkerCollector(Collector):
    """tom_stage_cpu_seconds_total (per stage, plus "other") and tom_stage_queued per worker."""

    def __init__(self, load: Callable[[], Mapping[str, WorkerLoad]]) -> None:
        self.load = load

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        cpu = CounterMetricFamily("tom_stage_cpu_seconds", "CPU time spent on each stage's "
                                  "worker thread (what calls cost, apart from waiting).",
                                  labels=("stage",))
        queued = GaugeMetricFamily("tom_stage_queued", "Requests waiting for each stage's "
                                   "worker thread now.", labels=("stage",))
        workers = self.load()
        if not workers:
            return
        for stage, seconds in stage_cpu_seconds(tuple(workers)).items():
            cpu.add_metric((stage,), seconds)
        for stage, worker in workers.items():
            queued.add_metric((stage,), worker.queued())
        yield cpu
        yield queued
