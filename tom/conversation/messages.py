"""Messages and appointment requests taken by TOM, in SQLite (WAL), committed before TOM says thanks.

One table holds both kinds, with an outbox column set for the webhook: a row stays pending until
the webhook accepted it, so nothing is lost when the receiver is down or TOM restarts. SQLite
runs in a worker thread (`asyncio.to_thread`) behind one lock; the event loop never waits on disk.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import structlog

log = structlog.get_logger(__name__)
T = TypeVar("T")
Rows = list[dict[str, Any]]  # a name of its own: inside MessageStore `list` is a method
DB_NAME = "tom.db"
# Built-in kinds; a profile's own [[requests]] are stored under their id (lower case, digits, _).
KINDS = ("message", "appointment", "reschedule", "cancellation", "callback")
_KIND = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (length(kind) BETWEEN 2 AND 40),
    call_id TEXT NOT NULL,
    caller TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    callback_number TEXT NOT NULL DEFAULT '',
    day TEXT NOT NULL DEFAULT '',
    time TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    webhook_pending INTEGER NOT NULL DEFAULT 0,
    webhook_attempts INTEGER NOT NULL DEFAULT 0,
    webhook_next_at REAL NOT NULL DEFAULT 0,
    webhook_error TEXT NOT NULL DEFAULT '',
    delivered_at REAL
);
"""
SCHEMA = TABLE.format(name="messages") + """
CREATE INDEX IF NOT EXISTS messages_outbox ON messages (webhook_pending, webhook_next_at);
CREATE INDEX IF NOT EXISTS messages_created ON messages (created_at);
PRAGMA user_version = 2;
"""
# Version 1 allowed only messages and appointments: its rows move to a table that allows any kind.
MIGRATE_1_TO_2 = TABLE.format(name="messages_v2") + """
INSERT INTO messages_v2 SELECT * FROM messages;
DROP TABLE messages;
ALTER TABLE messages_v2 RENAME TO messages;
"""


class MessageStore:
    """The SQLite store; `outbox=True` marks every new row for webhook delivery."""

    def __init__(self, path: str | Path, *, outbox: bool = True,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.outbox = outbox
        self._clock = clock
        self._lock = threading.Lock()
        self._listeners: list[Callable[[int, str], None]] = []
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a taken message survives a power cut
        if self._db.execute("PRAGMA user_version").fetchone()[0] == 1:
            self._db.executescript(f"BEGIN; {MIGRATE_1_TO_2} COMMIT;")
            log.info("messages_table_migrated", path=str(self.path), to_version=2)
        self._db.executescript(SCHEMA)
        self._db.commit()

    @classmethod
    def in_dir(cls, data_dir: str | Path, **kwargs: Any) -> MessageStore:
        """The store at `<data_dir>/tom.db` (settings.data.dir)."""
        return cls(Path(data_dir) / DB_NAME, **kwargs)

    def on_added(self, listener: Callable[[int, str], None]) -> None:
        """Call `listener(id, kind)` on the event loop after each committed insert."""
        self._listeners.append(listener)

    async def add_message(self, call_id: str, caller: str, name: str, callback_number: str,
                          text: str) -> int:
        """Store a message; returns its id once it is committed to disk."""
        return await self._insert("message", call_id=call_id, caller=caller, name=name,
                                  callback_number=callback_number, text=text)

    async def add_appointment(self, call_id: str, caller: str, name: str, day: str, time: str,
                              note: str) -> int:
        """Store an appointment request; returns its id once it is committed to disk."""
        return await self._insert("appointment", call_id=call_id, caller=caller, name=name,
                                  day=day, time=time, text=note)

    async def add_request(self, kind: str, call_id: str, caller: str, *, name: str = "",
                          callback_number: str = "", day: str = "", time: str = "",
                          text: str = "") -> int:
        """Store any request a flow took down (reschedule, cancellation, callback, or a kind the
        profile declares)."""
        if not _KIND.match(kind):
            raise ValueError(f"request kind {kind!r} is not a lower-case id like "
                             f"{', '.join(KINDS)}")
        return await self._insert(kind, call_id=call_id, caller=caller, name=name,
                                  callback_number=callback_number, day=day, time=time, text=text)

    async def list(self, limit: int = 100) -> Rows:
        """Newest first, for the dashboard and `GET /api/messages`."""
        return await self._run(lambda db: _rows(db.execute(
            "SELECT * FROM messages ORDER BY id DESC LIMIT ?", (limit,))))

    async def get(self, message_id: int) -> dict[str, Any] | None:
        rows = await self._run(lambda db: _rows(db.execute(
            "SELECT * FROM messages WHERE id = ?", (message_id,))))
        return rows[0] if rows else None

    async def delete_older_than(self, days: float) -> int:
        """Retention: delete rows created more than `days` ago; returns how many went."""
        cutoff = self._clock() - days * 86400

        def go(db: sqlite3.Connection) -> int:
            n = db.execute("DELETE FROM messages WHERE created_at < ?", (cutoff,)).rowcount
            db.commit()
            return n
        n = await self._run(go)
        if n:
            log.info("messages_deleted", count=n, older_than_days=days)
        return n

    # --- the webhook outbox --------------------------------------------------------------
    async def due_for_webhook(self, limit: int = 20) -> Rows:
        """Pending rows whose next attempt is due, oldest first."""
        now = self._clock()
        return await self._run(lambda db: _rows(db.execute(
            "SELECT * FROM messages WHERE webhook_pending = 1 AND webhook_next_at <= ? "
            "ORDER BY id LIMIT ?", (now, limit))))

    async def next_webhook_at(self) -> float | None:
        """When the earliest pending row is due (unix seconds), or None when nothing waits."""
        return await self._run(lambda db: db.execute(
            "SELECT MIN(webhook_next_at) FROM messages WHERE webhook_pending = 1").fetchone()[0])

    async def mark_delivered(self, message_id: int) -> None:
        now = self._clock()
        await self._write("UPDATE messages SET webhook_pending = 0, delivered_at = ?, "
                          "webhook_error = '' WHERE id = ?", (now, message_id))

    async def mark_failed(self, message_id: int, error: str, retry_at: float) -> None:
        await self._write("UPDATE messages SET webhook_attempts = webhook_attempts + 1, "
                          "webhook_error = ?, webhook_next_at = ? WHERE id = ?",
                          (error[:500], retry_at, message_id))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- internals ----------------------------------------------------------------------
    async def _insert(self, kind: str, **values: str) -> int:
        values = {k: (v or "").strip() for k, v in values.items()}
        row = {"kind": kind, **values, "created_at": self._clock(),
               "webhook_pending": int(self.outbox)}
        sql = (f"INSERT INTO messages ({', '.join(row)}) "
               f"VALUES ({', '.join('?' for _ in row)})")

        def go(db: sqlite3.Connection) -> int:
            cur = db.execute(sql, tuple(row.values()))
            db.commit()
            assert cur.lastrowid is not None  # an INSERT always sets it
            return cur.lastrowid
        message_id = await self._run(go)
        log.info("message_stored", id=message_id, kind=kind, call_id=values.get("call_id"))
        for listener in list(self._listeners):
            listener(message_id, kind)
        return message_id

    async def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        def go(db: sqlite3.Connection) -> None:
            db.execute(sql, params)
            db.commit()
        await self._run(go)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                try:
                    return fn(self._db)
                except BaseException:
                    self._db.rollback()
                    raise
        return await asyncio.to_thread(locked)


def _rows(cursor: sqlite3.Cursor) -> Rows:
    return [dict(r) for r in cursor.fetchall()]
