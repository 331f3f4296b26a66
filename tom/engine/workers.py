"""One worker thread per engine, and the time each request spent waiting for it and running on it.

Each model serves one request at a time (their thread budgets are sized together for the
machine), so several calls queue for the same worker. `await worker.run(fn, *args)` returns the
result with three timestamps, so a turn can report the queue wait apart from the compute:

    timed = await stt.run(model.transcribe, audio)
    timed.value, timed.queue_ns, timed.compute_ns
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Generic, TypeVar

from tom.engine.timings import Clock

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Timed(Generic[T]):
    """A worker's result and when it was asked for, begun and finished (monotonic ns)."""

    value: T
    submitted_ns: int
    started_ns: int
    done_ns: int

    @property
    def queue_ns(self) -> int:
        return self.started_ns - self.submitted_ns

    @property
    def compute_ns(self) -> int:
        return self.done_ns - self.started_ns


# Who is asking: a call's tasks carry its id (tom/call/tasks.py), so requests from many calls
# can take turns on one worker instead of queueing strictly in arrival order.
requester: ContextVar[str] = ContextVar("tom_worker_requester", default="")


@dataclass(slots=True)
class _Job:
    fn: Callable[[], None]
    future: Future[None]


class Worker:
    """A single thread that runs one engine's blocking calls, taking turns between callers.

    Requests wait in one queue per requester (a call id; "" for the process itself) and the
    thread serves the queues round-robin, so a call with many sentences queued (a long answer,
    speculative work) delays another call's next request by at most one job, never by its
    whole backlog. Within one call, requests run in the order they were asked for.
    """

    def __init__(self, name: str, *, clock: Clock = time.monotonic_ns) -> None:
        self.name = name
        self.clock = clock
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"tom-{name}")
        self._queues: OrderedDict[str, deque[_Job]] = OrderedDict()
        self._running = False
        self._closed = False
        self._lock = threading.Lock()  # submit() may come from the loop, done callbacks do not

    async def run(self, fn: Callable[..., T], *args: object) -> Timed[T]:
        """Run `fn(*args)` on the worker; the timestamps tell queue wait from compute."""
        submitted = self.clock()
        result: list[tuple[T, int, int]] = []

        def timed() -> None:
            started = self.clock()
            value = fn(*args)
            result.append((value, started, self.clock()))

        await asyncio.wrap_future(self.submit(timed))
        value, started, done = result[0]
        return Timed(value, submitted, started, done)

    def submit(self, fn: Callable[[], None]) -> Future[None]:
        """Queue `fn` for the worker without waiting (a stream that reports back itself)."""
        future: Future[None] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the {self.name} worker is closed")
            self._queues.setdefault(requester.get(), deque()).append(_Job(fn, future))
        self._next()
        return future

    def _next(self) -> None:
        """Hand the thread its next job: the oldest request of the requester whose turn it is."""
        with self._lock:
            if self._running or self._closed:
                return
            job = None
            while self._queues and job is None:
                key, jobs = next(iter(self._queues.items()))
                candidate = jobs.popleft()
                if jobs:
                    self._queues.move_to_end(key)  # the others go first next time
                else:
                    del self._queues[key]
                if candidate.future.set_running_or_notify_cancel():
                    job = candidate
            if job is None:
                return
            self._running = True
        self._pool.submit(self._execute, job)

    def _execute(self, job: _Job) -> None:
        try:
            job.fn()
        except BaseException as exc:  # the caller gets it; the worker carries on
            job.future.set_exception(exc)
        else:
            job.future.set_result(None)
        finally:
            with self._lock:
                self._running = False
            self._next()

    def close(self) -> None:
        """Drop queued requests; the one running finishes in its thread (models cannot abort)."""
        with self._lock:
            self._closed = True
            queued = [job for jobs in self._queues.values() for job in jobs]
            self._queues.clear()
        for job in queued:
            job.future.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)
