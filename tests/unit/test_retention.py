"""Retention: old call records and messages go, recent ones and active calls stay."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tom.monitor.events import CallEnded, EventBus, Outcome
from tom.registry import CallRecord, CallRegistry
from tom.security.retention import DAY_S, RetentionTask, prune_messages, prune_recent

NOW = 1_800_000_000.0


def registry_with(ages_days: list[float], keep: int = 200) -> CallRegistry:
    reg = CallRegistry(EventBus(), max_calls=4, keep_recent=keep)
    for i, age in enumerate(ages_days):
        reg.recent.append(CallRecord(f"c{i}", "twilio", "+4930123456",
                                     started_at=NOW - age * DAY_S))
    return reg


def test_prune_recent_drops_only_old_records() -> None:
    reg = registry_with([0.1, 5, 29.9, 30.1, 100])
    assert prune_recent(reg, 30, now=NOW) == 2
    assert [r.id for r in reg.recent] == ["c0", "c1", "c2"]  # order kept
    assert reg.recent.maxlen == 200
    assert reg.get("c3") is None and reg.get("c4") is None


def test_prune_recent_zero_days_keeps_everything() -> None:
    reg = registry_with([1, 1000])
    assert prune_recent(reg, 0, now=NOW) == 0
    assert len(reg.recent) == 2


def test_prune_recent_never_touches_active_calls() -> None:
    bus = EventBus()
    reg = CallRegistry(bus, max_calls=4)
    record = reg.admit("live", "twilio", "+4930123456")
    record.started_at = NOW - 400 * DAY_S  # a (hypothetically) ancient call still in progress
    prune_recent(reg, 1, now=NOW)
    assert reg.get("live") is record
    bus.publish(CallEnded(call_id="live", outcome=Outcome.COMPLETED, duration_s=1.0))
    assert prune_recent(reg, 1, now=NOW) == 1  # once it has ended it can go


class SqliteMessages:
    """A stand-in for the message store with the `delete_older_than(days)` it will have."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.execute("create table m (text text, created_at real)")

    def add(self, text: str, age_days: float) -> None:
        self.db.execute("insert into m values (?, ?)", (text, time.time() - age_days * DAY_S))
        self.db.commit()

    def delete_older_than(self, days: float) -> int:
        cur = self.db.execute("delete from m where created_at < ?", (time.time() - days * DAY_S,))
        self.db.commit()
        return cur.rowcount

    def texts(self) -> list[str]:
        return [row[0] for row in self.db.execute("select text from m order by text")]


class AsyncMessages:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def delete_older_than(self, days: float) -> int:
        self.calls.append(days)
        return 3


async def test_prune_messages_sync_and_async(tmp_path: Path) -> None:
    store = SqliteMessages(tmp_path / "m.db")
    store.add("new", 1)
    store.add("old", 31)
    assert await prune_messages(store, 30) == 1
    assert store.texts() == ["new"]
    a = AsyncMessages()
    assert await prune_messages(a, 7) == 3 and a.calls == [7]
    assert await prune_messages(a, 0) == 0 and a.calls == [7]
    with pytest.raises(TypeError, match="delete_older_than"):
        await prune_messages(object(), 7)


async def test_task_prunes_assistant_registry_and_messages(tmp_path: Path) -> None:
    store = SqliteMessages(tmp_path / "m.db")
    store.add("new", 1)
    store.add("old", 45)
    assistant = SimpleNamespace(registry=registry_with([1, 45]), messages=store)
    task = RetentionTask(assistant, days=30, interval_s=3600, clock=lambda: NOW)
    assert await task.run_once() == {"calls": 1, "messages": 1}
    assert store.texts() == ["new"] and len(assistant.registry.recent) == 1


async def test_failing_store_does_not_stop_call_pruning() -> None:
    class Broken:
        def delete_older_than(self, days: float) -> int:
            raise sqlite3.OperationalError("database is locked")

    assistant = SimpleNamespace(registry=registry_with([45]), messages=Broken())
    task = RetentionTask(assistant, days=30, clock=lambda: NOW)
    assert await task.run_once() == {"calls": 1, "messages": 0}


async def test_background_task_repeats_and_stops() -> None:
    store = AsyncMessages()
    task = RetentionTask(store, days=10, interval_s=0.01)
    async with task:
        for _ in range(200):
            if len(store.calls) >= 3:
                break
            await asyncio.sleep(0.01)
    assert len(store.calls) >= 3
    runs = task.runs
    await asyncio.sleep(0.05)
    assert task.runs == runs  # stopped
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "tom-retention"]


async def test_zero_days_starts_nothing() -> None:
    store = AsyncMessages()
    async with RetentionTask(store, days=0, interval_s=0.01) as task:
        await asyncio.sleep(0.03)
        assert await task.run_once() == {"calls": 0, "messages": 0}
    assert store.calls == []


def test_bad_interval() -> None:
    with pytest.raises(ValueError):
        RetentionTask(AsyncMessages(), days=1, interval_s=0)


async def test_task_with_the_real_message_store(tmp_path: Path) -> None:
    from tom.conversation.messages import MessageStore

    now = [NOW - 40 * DAY_S]
    store = MessageStore(tmp_path / "tom.db", outbox=False, clock=lambda: now[0])
    try:
        await store.add_message("c1", "+4930123456", "Old", "030123456", "call me back")
        now[0] = NOW - 1 * DAY_S
        await store.add_message("c2", "+4930123456", "New", "030123456", "hello")
        now[0] = NOW
        assistant = SimpleNamespace(registry=registry_with([]), messages=store)
        assert await RetentionTask(assistant, days=30, clock=lambda: NOW).run_once() == {
            "calls": 0, "messages": 1}
        assert [m["name"] for m in await store.list()] == ["New"]
    finally:
        store.close()
