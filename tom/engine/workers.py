"""One worker thread per engine, and the time each request spent waiting for it and running on it.

Each model serves one request at a time (their thread budgets are sized together for the
machine), so several calls queue for the same worker. `await worker.run(fn, *args)` returns the
result with three timestamps, so a turn can report the queue wait apart from the compute:

    timed = await stt.run(model.transcribe, audio)
    timed.value, timed.queue_ns, timed.compute_ns

The worker's thread is named `tom-<name>` for the operating system; the threads an engine starts
from it (OpenMP, ggml, onnxruntime pools) inherit the name, so tom.monitor.cpu can tell what each
stage costs in CPU time.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from enum import IntEnum
from typing import Generic, TypeVar

from tom.engine.timings import Clock
from tom.monitor.cpu import name_os_thread

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


class Urgency(IntEnum):
    """How soon a caller notices a request's delay; a worker serves the lowest value first.

    NOW: someone is waiting in silence (the end-of-turn transcript, a reply's first sentence).
    SOON: the default (later sentences, which play while the first one is heard).
    LATER: work that may be thrown away or can wait (speculative answers, a busy message).
    """

    NOW = 0
    SOON = 1
    LATER = 2


urgency: ContextVar[Urgency] = ContextVar("tom_worker_urgency", default=Urgency.SOON)


@contextlib.contextmanager
def urgent(level: Urgency) -> Iterator[None]:
    """Requests submitted inside the block (by this task) carry `level`."""
    token = urgency.set(level)
    try:
        yield
    finally:
        urgency.reset(token)
# A request that has waited this long is served as if it were urgent: LATER work is delayed
# by urgent work, never starved by it.
AGE_LIMIT_NS = 2_000_000_000


@dataclass(slots=True)
class _Job:
    fn: Callable[[], None]
    future: Future[None]
    submitted_ns: int


class Worker:
    """A single thread that runs one engine's blocking calls, taking turns between callers.

    Requests wait in one queue per requester (a call id; "" for the process itself) and the
    thread serves the queues round-robin, so a call with many sentences queued (a long answer,
    speculative work) delays another call's next request by at most one job, never by its
    whole backlog. Within one call, requests run in the order they were asked for.

    Each request also has an `Urgency` (the `urgency` context variable when it is submitted):
    the thread takes the most urgent class that has work, round-robin between requesters inside
    it, so one call's speculative answer never holds up another call's end-of-turn transcript.
    A request older than AGE_LIMIT_NS counts as NOW, so nothing waits forever.
    """

    def __init__(self, name: str, *, clock: Clock = time.monotonic_ns) -> None:
        self.name = name
        self.clock = clock
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"tom-{name}",
                                        initializer=name_os_thread, initargs=(f"tom-{name}",))
        self._queues: dict[Urgency, OrderedDict[str, deque[_Job]]] = {
            level: OrderedDict() for level in Urgency}
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
        job = _Job(fn, future, time.monotonic_ns())  # the test clock is for timings only
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the {self.name} worker is closed")
            self._queues[urgency.get()].setdefault(requester.get(), deque()).append(job)
        self._next()
        return future

    def queued(self) -> int:
        """Requests waiting for the thread (not counting the one running)."""
        with self._lock:
            return sum(len(jobs) for level in self._queues.values() for jobs in level.values())

    def _next(self) -> None:
        """Hand the thread its next job (see the class docstring for the order)."""
        with self._lock:
            if self._running or self._closed:
                return
            job = None
            while job is None and (queues := self._most_urgent()) is not None:
                key, jobs = next(iter(queues.items()))
                candidate = jobs.popleft()
                if jobs:
                    queues.move_to_end(key)  # the others go first next time
                else:
                    del queues[key]
                if candidate.future.set_running_or_notify_cancel():
                    job = candidate
            if job is None:
                return
            self._running = True
        self._pool.submit(self._execute, job)

    def _most_urgent(self) -> OrderedDict[str, deque[_Job]] | None:
        """The queues to serve next: an aged request's class first, else the most urgent one."""
        now = time.monotonic_ns()
        for level in (Urgency.SOON, Urgency.LATER):
            for key, jobs in self._queues[level].items():
                if jobs and now - jobs[0].submitted_ns >= AGE_LIMIT_NS:
                    self._queues[level].move_to_end(key, last=False)
                    return self._queues[level]
        return next((q for q in self._queues.values() if q), None)

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
            queued = [job for level in self._queues.values() for jobs in level.values()
                      for job in jobs]
            for level in self._queues.values():
                level.clear()
        for job in queued:
            job.future.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)
