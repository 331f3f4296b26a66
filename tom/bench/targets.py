"""Where bench calls go: a TOM started in this process, or one already running at a URL.

Both give the caller a stream URL and token, and after each call what TOM recorded about it
(transcripts, turn timings, barge-ins) plus CPU and memory figures for the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog

from tom.bench import mojibake
from tom.bench.cost import STAGES as COST_STAGES
from tom.bench.cost import CpuSnapshot, Meter, parse_stage_cpu
from tom.bench.report import Resources
from tom.config import Settings
from tom.monitor import events as ev
from tom.monitor.cpu import stage_cpu_seconds

log = structlog.get_logger(__name__)


@dataclass
class CallInfo:
    """What TOM recorded about one call, in the shapes of docs/CONTRACTS.md."""

    transcript: list[dict[str, Any]] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    barge_ins: list[dict[str, Any]] = field(default_factory=list)
    raw: list[Any] = field(default_factory=list)


# --- in-process -----------------------------------------------------------------------------------


def bench_settings(base: Settings, language: str, max_calls: int, data_dir: str) -> Settings:
    """The settings of an in-process TOM for the bench: free port, no AudioSocket, own data."""
    raw = base.to_dict()
    raw["server"].update(host="127.0.0.1", port=0,
                         max_calls=max(base.server.max_calls, max_calls))
    raw["audiosocket"]["enabled"] = False
    # The bench places exactly the calls it measures: no load-based refusals (a sweep probes how
    # far the box goes; admission by load has its own e2e test).
    raw["limits"]["admit_queue_p95_ms"] = 0.0
    raw["data"]["dir"] = data_dir
    raw["redis"]["url"] = ""
    if language == "mixed":  # one German TOM for German and English callers
        language = "de"
        raw["assistant"]["languages"] = ["de", "en"]
    raw["stt"]["language"] = language
    raw["assistant"]["language"] = language
    if language != "en" and base.stt.model.endswith(".en"):
        raw["stt"]["model"] = "base"  # English-only Whisper cannot hear German
    return Settings.from_dict(raw)


class _LogTap(logging.Handler):
    """Formats every log record like TOM's own handler and keeps lines with mojibake."""

    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__()
        if formatter is not None:
            self.setFormatter(formatter)
        self.bad_lines: list[str] = []
        self.lines = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # noqa: BLE001 - a broken record must not break the bench
            line = str(record.msg)
        self.lines += 1
        if mojibake.count_mojibake(line):
            self.bad_lines.append(line)


class InProcessTarget:
    """Starts TomServer for one language and listens to its event bus."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = ""
        self.token = settings.twilio.stream_token
        self.expect_greeting = settings.call.greeting
        self.events: dict[str, list[ev.Event]] = {}
        self.ended: dict[str, asyncio.Event] = {}
        self.log_tap: _LogTap | None = None
        self._cpu0 = 0.0
        self._wall0 = 0.0

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[InProcessTarget]:
        from tom.server import TomServer

        root = logging.getLogger()
        formatter = next((h.formatter for h in root.handlers if h.formatter), None)
        self.log_tap = _LogTap(formatter)
        root.addHandler(self.log_tap)
        try:
            async with TomServer(self.settings) as server:
                self.url = server.url
                server.bus.listen(self._on_event)
                self._cpu0, self._wall0 = _cpu_seconds(), time.monotonic()
                yield self
        finally:
            root.removeHandler(self.log_tap)

    def _on_event(self, event: ev.Event) -> None:
        self.events.setdefault(event.call_id, []).append(event)
        if isinstance(event, ev.CallEnded):
            self.ended.setdefault(event.call_id, asyncio.Event()).set()

    async def call_info(self, call_sid: str, wait_s: float = 5.0) -> CallInfo:
        done = self.ended.setdefault(call_sid, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), wait_s)
        info = CallInfo()
        for e in self.events.get(call_sid, []):
            wire = e.to_dict()
            match e:
                case ev.Transcript():  # with its Unix time, as /api/calls gives it
                    info.transcript.append({**wire["data"], "wall": wire["wall"]})
                case ev.TurnTimed():
                    info.turns.append(wire["data"])
                case ev.BargeIn():
                    info.barge_ins.append(wire["data"])
            if not isinstance(e, ev.Transcript):
                info.raw.append(wire)
        return info

    def resources(self) -> Resources:
        wall = max(1e-6, time.monotonic() - self._wall0)
        return Resources(100.0 * (_cpu_seconds() - self._cpu0) / wall, _peak_rss_mb(),
                         "in-process (includes the bench's own callers)")

    def log_mojibake(self) -> list[str]:
        return list(self.log_tap.bad_lines) if self.log_tap else []

    def meter(self) -> Meter:
        async def cpu() -> CpuSnapshot:
            return CpuSnapshot(stage_cpu_seconds(COST_STAGES))

        async def rss() -> float | None:
            return _status_mb("VmRSS")

        return Meter(cpu, rss, "in-process: \"other\" includes the bench's own callers")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float | None:
    """VmHWM: the most resident memory this process ever held (models included)."""
    peak = _status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _status_mb(key: str) -> float | None:
    """A memory line of /proc/self/status (VmRSS, VmHWM) in MB; None where there is none."""
    try:
        with open("/proc/self/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith(f"{key}:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


@contextlib.contextmanager
def temp_data_dir() -> Any:
    path = tempfile.mkdtemp(prefix="tom-bench-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --- remote ---------------------------------------------------------------------------------------


class RemoteTarget:
    """A TOM already running at `url`: per-call records from its API, resources from /metrics."""

    def __init__(self, url: str, token: str, http: aiohttp.ClientSession,
                 expect_greeting: bool = True) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.http = http
        self.expect_greeting = expect_greeting
        self._samples: list[tuple[float, float | None, float | None]] = []
        self._sampler: asyncio.Task[None] | None = None

    @property
    def base(self) -> str:
        scheme, sep, rest = self.url.partition("://")
        scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
        return f"{scheme}{sep}{rest.split('/', 1)[0]}"

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[RemoteTarget]:
        self._sampler = asyncio.create_task(self._sample_metrics())
        try:
            yield self
        finally:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
            await self._sample_once()

    async def call_info(self, call_sid: str, wait_s: float = 5.0) -> CallInfo:
        deadline = time.monotonic() + wait_s
        body: dict[str, Any] = {}
        while True:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
                async with self.http.get(f"{self.base}/api/calls/{call_sid}") as resp:
                    if resp.status == 200:
                        body = await resp.json(content_type=None)
                    elif resp.status in (401, 403, 404):
                        break  # no such call, or the API is closed to us: nothing to wait for
            if body.get("outcome") or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.25)
        transcript = list(body.get("transcript") or [])
        rest = {k: v for k, v in body.items() if k != "transcript"}
        return CallInfo(transcript, list(body.get("turns") or []),
                        list(body.get("barge_ins") or []), [rest] if rest else [])

    def meter(self) -> Meter:
        async def cpu() -> CpuSnapshot | None:
            return parse_stage_cpu(await self._metrics_text())

        async def rss() -> float | None:
            value = _metric(await self._metrics_text(), "process_resident_memory_bytes")
            return None if value is None else value / 2**20

        return Meter(cpu, rss, "from /metrics")

    async def _metrics_text(self) -> str:
        try:
            async with self.http.get(f"{self.base}/metrics") as resp:
                return await resp.text() if resp.status == 200 else ""
        except (aiohttp.ClientError, TimeoutError):
            return ""

    async def _sample_metrics(self) -> None:
        while True:
            await self._sample_once()
            await asyncio.sleep(1.0)

    async def _sample_once(self) -> None:
        text = await self._metrics_text()
        if not text:
            return
        self._samples.append((time.monotonic(), _metric(text, "process_cpu_seconds_total"),
                              _metric(text, "process_resident_memory_bytes")))

    def resources(self) -> Resources:
        cpu = [(t, c) for t, c, _ in self._samples if c is not None]
        rss = [r for _, _, r in self._samples if r is not None]
        cpu_pct = (100.0 * (cpu[-1][1] - cpu[0][1]) / (cpu[-1][0] - cpu[0][0])
                   if len(cpu) >= 2 and cpu[-1][0] > cpu[0][0] else None)
        return Resources(cpu_pct, max(rss) / 2**20 if rss else None,
                         "/metrics" if cpu or rss else "none (no process_* in /metrics)")

    def log_mojibake(self) -> list[str]:
        return []


def _metric(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            try:
                return float(line.rsplit(" ", 1)[1])
            except ValueError:
                return None
    return None
