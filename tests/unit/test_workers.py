"""The engine worker: one request at a time, and each one's queue wait told apart from compute."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tom.engine.workers import Timed, Worker


class Ticks:
    """A clock that moves only when the test says so (read from the worker thread too)."""

    def __init__(self) -> None:
        self.now = 0
        self.lock = threading.Lock()

    def __call__(self) -> int:
        with self.lock:
            return self.now

    def set(self, ns: int) -> None:
        with self.lock:
            self.now = ns


async def test_a_request_behind_another_reports_its_wait_as_queue_not_compute():
    clock = Ticks()
    worker = Worker("stt", clock=clock)
    first_may_finish = threading.Event()
    first_started = threading.Event()

    def slow() -> str:
        first_started.set()
        first_may_finish.wait(5)
        clock.set(300)  # the first request computed from 0 to 300
        return "first"

    def quick() -> str:
        clock.set(350)  # the second computed from 300 to 350
        return "second"

    try:
        first = asyncio.create_task(worker.run(slow))
        await asyncio.to_thread(first_started.wait, 5)
        second = asyncio.create_task(worker.run(quick))
        await asyncio.sleep(0)  # the second is submitted at 0, while the first still runs
        await asyncio.sleep(0.01)
        first_may_finish.set()
        a, b = await first, await second
    finally:
        worker.close()
    assert a == Timed("first", 0, 0, 300)
    assert (b.value, b.queue_ns, b.compute_ns) == ("second", 300, 50)


async def test_an_error_in_the_engine_reaches_the_caller():
    worker = Worker("tts")

    def broken() -> None:
        raise ValueError("no voice")

    try:
        with pytest.raises(ValueError, match="no voice"):
            await worker.run(broken)
    finally:
        worker.close()


async def test_a_closed_worker_takes_no_more_requests():
    worker = Worker("llm")
    worker.close()
    with pytest.raises(RuntimeError):
        await worker.run(lambda: None)


async def test_calls_take_turns_on_a_busy_worker():
    """A call with a backlog delays another call's request by one job, not by its backlog."""
    from tom.engine.workers import requester

    worker = Worker("tts")
    order: list[str] = []
    release = threading.Event()
    started = threading.Event()

    def job(name: str) -> None:
        if name == "a0":
            started.set()
            release.wait(5)
        order.append(name)

    async def ask(call_id: str, name: str) -> None:
        requester.set(call_id)  # what a call's tasks carry (tom/call/tasks.py)
        await worker.run(job, name)

    try:
        first = asyncio.create_task(ask("a", "a0"))
        await asyncio.to_thread(started.wait, 5)
        backlog = [asyncio.create_task(ask("a", f"a{i}")) for i in (1, 2, 3)]
        await asyncio.sleep(0)
        other = asyncio.create_task(ask("b", "b1"))
        await asyncio.sleep(0)
        release.set()
        await asyncio.gather(first, *backlog, other)
    finally:
        worker.close()
    assert order == ["a0", "a1", "b1", "a2", "a3"]


async def test_a_cancelled_request_that_has_not_started_is_skipped():
    worker = Worker("stt")
    ran: list[str] = []
    release = threading.Event()
    started = threading.Event()

    def block() -> None:
        started.set()
        release.wait(5)

    try:
        first = asyncio.create_task(worker.run(block))
        await asyncio.to_thread(started.wait, 5)
        dropped = asyncio.create_task(worker.run(ran.append, "dropped"))
        await asyncio.sleep(0)
        dropped.cancel()
        kept = asyncio.create_task(worker.run(ran.append, "kept"))
        await asyncio.sleep(0)
        release.set()
        await first
        await kept
    finally:
        worker.close()
    assert ran == ["kept"]
