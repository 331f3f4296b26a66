"""The engine worker: one request at a time, and each one's queue wait told apart from compute."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from tom.engine import workers
from tom.engine.workers import Timed, Urgency, Worker, requester, urgency
from tom.monitor.cpu import parse_stat, stage_cpu_seconds


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


async def _order_on_a_busy_worker(worker: Worker,
                                  asks: list[tuple[str, Urgency, str]]) -> list[str]:
    """Hold the worker with one job, queue `asks` (requester, urgency, name), return run order."""
    order: list[str] = []
    release, started = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        release.wait(5)

    async def ask(call_id: str, level: Urgency, name: str) -> None:
        requester.set(call_id)
        urgency.set(level)
        await worker.run(order.append, name)

    try:
        blocker = asyncio.create_task(worker.run(hold))
        await asyncio.to_thread(started.wait, 5)
        tasks = []
        for call_id, level, name in asks:
            tasks.append(asyncio.create_task(ask(call_id, level, name)))
            await asyncio.sleep(0.01)  # submitted in this order
        release.set()
        await asyncio.gather(blocker, *tasks)
    finally:
        worker.close()
    return order


async def test_urgent_requests_overtake_speculative_and_later_work():
    order = await _order_on_a_busy_worker(Worker("stt"), [
        ("a", Urgency.LATER, "a-speculative"),
        ("b", Urgency.SOON, "b-second-sentence"),
        ("c", Urgency.NOW, "c-end-of-turn"),
        ("a", Urgency.NOW, "a-end-of-turn"),
    ])
    assert order == ["c-end-of-turn", "a-end-of-turn", "b-second-sentence", "a-speculative"]


async def test_work_that_waited_too_long_is_not_starved_by_urgent_work(monkeypatch):
    monkeypatch.setattr(workers, "AGE_LIMIT_NS", 0)  # everything is "too old" at once
    order = await _order_on_a_busy_worker(Worker("tts"), [
        ("a", Urgency.LATER, "a-busy-message"),
        ("b", Urgency.NOW, "b-first-sentence"),
    ])
    assert order == ["a-busy-message", "b-first-sentence"]


async def test_engine_threads_started_by_a_worker_count_as_its_stage():
    """A pool thread an engine starts from the worker thread inherits the stage's name."""
    worker = Worker("stt")
    spin_s = 0.3
    measured = threading.Event()
    pool: list[threading.Thread] = []

    def spin() -> None:
        end = time.thread_time() + spin_s
        while time.thread_time() < end:
            pass

    def engine_with_a_pool() -> None:
        def pool_thread() -> None:  # lives on, like an OpenMP or onnxruntime pool thread
            spin()
            measured.wait(5)

        pool.append(threading.Thread(target=pool_thread))
        pool[0].start()
        spin()

    try:
        before = stage_cpu_seconds(("stt",))
        await worker.run(engine_with_a_pool)
        want = 2 * spin_s * 0.8  # the worker's and its pool thread's time
        for _ in range(40):  # the pool thread may still be spinning
            if stage_cpu_seconds(("stt",))["stt"] - before["stt"] >= want:
                break
            await asyncio.sleep(0.05)
        assert stage_cpu_seconds(("stt",))["stt"] - before["stt"] >= want
    finally:
        measured.set()
        if pool:
            pool[0].join()
        worker.close()


def test_a_proc_stat_line_gives_name_and_cpu_ticks():
    line = "4242 (tom-stt) S 1 2 3 0 -1 4194368 10 0 0 0 150 25 0 0 20 0 9 0 100 0 0"
    assert parse_stat(line) == ("tom-stt", 175)
    assert parse_stat(line.replace("(tom-stt)", "(a (odd) name)")) == ("a (odd) name", 175)
