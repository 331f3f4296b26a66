"""Optional mirror of the event bus into Redis, so several TOM processes can be watched at once.

Each event becomes a stream entry (XADD, MAXLEN ~ bound); each call keeps a summary hash
`tom:call:<id>`. Redis is never on a call's path: the bus hands events to a bounded queue,
one background task writes them. While Redis is slow or down, events are dropped and counted
(`tom_redis_dropped_total`) and a second task reconnects with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from tom.monitor.events import (
    BargeIn,
    CallEnded,
    CallError,
    CallStarted,
    Event,
    EventBus,
    StateChanged,
    Subscription,
    TurnTimed,
)
from tom.monitor.logging import redact_value
from tom.monitor.metrics import Metrics

log = structlog.get_logger(__name__)

CALL_KEY = "tom:call:{}"
BATCH = 100  # events per pipeline round trip


class RedisMirror:
    """Writes bus events to a Redis stream and per-call hashes; never blocks `publish()`."""

    def __init__(self, url: str, stream: str = "tom:events", maxlen: int = 10000,
                 queue_size: int = 1000, metrics: Metrics | None = None, *,
                 call_ttl_s: int = 86400, timeout_s: float = 1.0,
                 backoff_s: tuple[float, float] = (0.2, 5.0), redact: bool = False,
                 instance: str | None = None) -> None:
        self.url = url
        self.stream = stream
        self.maxlen = maxlen
        self.queue_size = queue_size
        self.call_ttl_s = call_ttl_s
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self.redact = redact
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}"
        self.dropped = 0
        self._metrics = metrics
        self._healthy = False
        self._redis: aioredis.Redis | None = None
        self._sub: Subscription | None = None
        self._down = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    def from_settings(cls, settings: Any, metrics: Metrics | None = None,
                      redact: bool = False) -> RedisMirror:
        """Build from `Settings.redis` (url, stream, maxlen, queue_size)."""
        return cls(settings.url, settings.stream, settings.maxlen, settings.queue_size, metrics,
                   redact=redact)

    @property
    def healthy(self) -> bool:
        """Whether the last write or ping reached Redis."""
        return self._healthy

    async def start(self, bus: EventBus) -> None:
        """Subscribe to `bus` and start writing; works even if Redis is down right now."""
        if self._tasks:
            raise RuntimeError("RedisMirror already started")
        self._redis = aioredis.Redis.from_url(
            self.url, socket_timeout=self.timeout_s, socket_connect_timeout=self.timeout_s,
            retry=Retry(NoBackoff(), 0), retry_on_timeout=False, health_check_interval=0)
        self._sub = bus.subscribe(self.queue_size, on_drop=lambda _e: self._count_drop(1))
        self._down.set()  # the reconnect task makes the first connection
        self._tasks = [asyncio.create_task(self._reconnect_loop(), name="redis-reconnect"),
                       asyncio.create_task(self._write_loop(), name="redis-writer")]

    async def close(self, flush_timeout_s: float = 1.0) -> None:
        """Stop listening, write what is still queued (briefly, if Redis is up), disconnect."""
        if self._sub is not None:
            self._sub.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._sub is not None and self._healthy:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush(), flush_timeout_s)
        if self._sub is not None:
            self._count_drop(self._sub.queue.qsize())
        self._sub = None
        if self._redis is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._redis.aclose()
            self._redis = None
        self._healthy = False

    async def ping(self) -> bool:
        """Readiness check: True when Redis answers within the timeout."""
        if self._redis is None:
            return False
        try:
            ok = bool(await asyncio.wait_for(self._redis.ping(), self.timeout_s))
        except (RedisError, OSError, TimeoutError) as exc:
            self._set_health(False, str(exc) or type(exc).__name__)
            return False
        self._set_health(ok)
        return ok

    # -- background tasks -----------------------------------------------------------------

    async def _write_loop(self) -> None:
        assert self._sub is not None
        queue = self._sub.queue
        while True:
            batch = [await queue.get()]
            while len(batch) < BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            if not self._healthy:
                self._count_drop(len(batch))
                continue
            try:
                await asyncio.wait_for(self._write(batch), self.timeout_s * 2)
            except (RedisError, OSError, TimeoutError) as exc:
                self._count_drop(len(batch))
                self._set_health(False, str(exc) or type(exc).__name__)
            except Exception:  # a bug in one batch must not end the mirror
                self._count_drop(len(batch))
                log.exception("redis mirror could not encode events; dropped them")

    async def _reconnect_loop(self) -> None:
        delay = self.backoff_s[0]
        while True:
            await self._down.wait()
            if await self.ping():
                delay = self.backoff_s[0]
                continue
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff_s[1])

    async def _flush(self) -> None:
        assert self._sub is not None
        queue = self._sub.queue
        while not queue.empty():
            batch = [queue.get_nowait() for _ in range(min(BATCH, queue.qsize()))]
            try:
                await self._write(batch)
            except (RedisError, OSError) as exc:
                self._count_drop(len(batch))
                self._set_health(False, str(exc) or type(exc).__name__)
                return

    async def _write(self, batch: list[Event]) -> None:
        assert self._redis is not None
        pipe = self._redis.pipeline(transaction=False)
        for event in batch:
            self._add_commands(pipe, event)
        await pipe.execute()

    # -- what goes to Redis ---------------------------------------------------------------

    def _add_commands(self, pipe: Any, event: Event) -> None:
        wire = event.to_dict()
        data = redact_value("data", wire["data"]) if self.redact else wire["data"]
        pipe.xadd(self.stream, {
            "type": wire["type"],
            "call_id": wire["call_id"],
            "ts": repr(wire["wall"]),
            "ts_ns": str(wire["ts_ns"]),
            "instance": self.instance,
            "data": json.dumps(data, ensure_ascii=False, default=str),
        }, maxlen=self.maxlen, approximate=True)
        if not event.call_id:
            return
        key = CALL_KEY.format(event.call_id)
        fields = call_fields(event, redact=self.redact)
        if fields:
            pipe.hset(key, mapping=fields)
        counter = _COUNTERS.get(type(event))
        if counter is not None:
            pipe.hincrby(key, counter, 1)
        pipe.hset(key, mapping={"instance": self.instance, "updated_at": repr(event.wall)})
        pipe.expire(key, self.call_ttl_s)

    def _set_health(self, ok: bool, error: str = "") -> None:
        if ok and not self._healthy:
            log.info("redis mirror connected", stream=self.stream)
        elif not ok and self._healthy:
            log.warning("redis unreachable; dropping events until it is back (counted in "
                        "tom_redis_dropped_total), reconnecting", error=error)
        self._healthy = ok
        if ok:
            self._down.clear()
        else:
            self._down.set()

    def _count_drop(self, n: int) -> None:
        if n <= 0:
            return
        self.dropped += n
        if self._metrics is not None:
            self._metrics.count_redis_dropped(n)


# Summary-hash counters one event of the class increments.
_COUNTERS: dict[type[Event], str] = {
    TurnTimed: "turns", BargeIn: "barge_ins", CallError: "errors"}


def call_fields(event: Event, *, redact: bool = False) -> dict[str, str]:
    """The summary-hash fields an event sets (counters are incremented separately)."""
    fields = _summary(event)
    if redact:
        fields = {k: redact_value(k, v) for k, v in fields.items()}
    return _strs(**fields)


def _summary(event: Event) -> dict[str, Any]:
    match event:
        case CallStarted():
            return {"transport": event.transport, "caller": event.caller,
                    "started_at": event.started_at or event.wall, "state": "started", "turns": 0}
        case StateChanged(dest=dest):
            return {"state": dest}
        case TurnTimed(turn=turn, intent=intent, timings_ms=timings):
            e2e = timings.get("e2e") if isinstance(timings, Mapping) else None
            return {"last_turn": turn, "last_intent": intent, "last_e2e_ms": e2e}
        case CallError(kind=kind):
            return {"last_error": kind}
        case CallEnded():
            return {"state": "ended", "outcome": event.outcome, "duration_s": event.duration_s,
                    "reason": event.reason, "ended_at": event.wall}
    return {}


def _strs(**fields: Any) -> dict[str, str]:
    """Redis hash values as text; None is left out rather than written as 'None'."""
    return {k: str(v) if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
            for k, v in fields.items() if v is not None}
