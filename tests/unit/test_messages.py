"""The SQLite message store: committed before returning, WAL, retention, the webhook outbox."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from tom.conversation.messages import DB_NAME, MessageStore


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock):
    s = MessageStore(tmp_path / "runtime" / DB_NAME, clock=clock)
    yield s
    s.close()


async def test_a_message_is_on_disk_when_add_returns(store: MessageStore) -> None:
    mid = await store.add_message("call-1", "+4917612345678", "Jörg Müller", "01761234567",
                                  "Bitte zurückrufen wegen der Bremsen, Grüße!")
    other = sqlite3.connect(store.path)  # a second connection sees only committed data
    row = other.execute("SELECT name, text, kind, webhook_pending FROM messages WHERE id = ?",
                        (mid,)).fetchone()
    other.close()
    assert row == ("Jörg Müller", "Bitte zurückrufen wegen der Bremsen, Grüße!", "message", 1)
    assert row[0].encode("utf-8") == "Jörg Müller".encode()


async def test_appointments_and_listing_newest_first(store: MessageStore) -> None:
    a = await store.add_message("c1", "", "Ann", "0123456", "hi")
    b = await store.add_appointment("c2", "+49", "Bob", "2025-05-13 (Tuesday)", "10:00",
                                    "full service")
    rows = await store.list(10)
    assert [r["id"] for r in rows] == [b, a]
    assert rows[0]["kind"] == "appointment" and rows[0]["day"] == "2025-05-13 (Tuesday)"
    assert rows[0]["time"] == "10:00" and rows[0]["text"] == "full service"
    assert await store.list(1) == rows[:1]
    assert (await store.get(a))["name"] == "Ann"
    assert await store.get(999) is None


async def test_wal_mode_and_the_default_location(tmp_path: Path) -> None:
    s = MessageStore.in_dir(tmp_path / "data" / "runtime")
    try:
        assert s.path == tmp_path / "data" / "runtime" / "tom.db"
        mode = sqlite3.connect(s.path).execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
    finally:
        s.close()


async def test_concurrent_adds_all_land(store: MessageStore) -> None:
    ids = await asyncio.gather(*(store.add_message(f"c{i}", "", f"n{i}", "0123456", "x")
                                 for i in range(25)))
    assert len(set(ids)) == 25
    assert len(await store.list(100)) == 25


async def test_rows_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "tom.db"
    s = MessageStore(path)
    mid = await s.add_message("c", "", "Ann", "0123456", "see you")
    s.close()
    again = MessageStore(path)
    try:
        assert (await again.get(mid))["text"] == "see you"
    finally:
        again.close()


async def test_retention_deletes_only_old_rows(store: MessageStore, clock: Clock) -> None:
    old = await store.add_message("c", "", "old", "0123456", "x")
    clock.now += 31 * 86400
    new = await store.add_message("c", "", "new", "0123456", "y")
    assert await store.delete_older_than(30) == 1
    assert [r["id"] for r in await store.list()] == [new]
    assert await store.get(old) is None


async def test_outbox_due_failed_delivered(store: MessageStore, clock: Clock) -> None:
    mid = await store.add_message("c", "", "Ann", "0123456", "x")
    assert [r["id"] for r in await store.due_for_webhook()] == [mid]
    await store.mark_failed(mid, "HTTP 503", retry_at=clock.now + 60)
    assert await store.due_for_webhook() == []
    assert await store.next_webhook_at() == clock.now + 60
    clock.now += 61
    row = (await store.due_for_webhook())[0]
    assert row["webhook_attempts"] == 1 and row["webhook_error"] == "HTTP 503"
    await store.mark_delivered(mid)
    assert await store.due_for_webhook() == []
    assert await store.next_webhook_at() is None
    assert (await store.get(mid))["delivered_at"] == clock.now


async def test_without_outbox_nothing_waits_for_a_webhook(tmp_path: Path) -> None:
    s = MessageStore(tmp_path / "tom.db", outbox=False)
    try:
        await s.add_message("c", "", "Ann", "0123456", "x")
        assert await s.due_for_webhook() == []
    finally:
        s.close()


async def test_listeners_hear_about_committed_rows(store: MessageStore) -> None:
    heard: list[tuple[int, str]] = []
    store.on_added(lambda mid, kind: heard.append((mid, kind)))
    mid = await store.add_appointment("c", "", "Ann", "d", "10:00", "n")
    assert heard == [(mid, "appointment")]
