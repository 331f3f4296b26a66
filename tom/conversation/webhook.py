"""Delivers each stored message to a webhook as JSON, at least once, in the background.

The outbox lives in SQLite (see messages.py), so delivery survives a receiver that is down and
a TOM restart: a failed post is retried with exponential backoff until the receiver answers 2xx.
Receivers should de-duplicate on the `Idempotency-Key` header (or the `id` field).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import structlog

from tom.conversation.messages import MessageStore

log = structlog.get_logger(__name__)
PAYLOAD_KEYS = ("id", "kind", "call_id", "caller", "name", "callback_number", "day", "time", "text")


def payload(row: dict[str, Any]) -> dict[str, Any]:
    """The JSON body for one stored row."""
    body = {k: row[k] for k in PAYLOAD_KEYS}
    body["created_at"] = datetime.fromtimestamp(row["created_at"], UTC).isoformat()
    return body


class WebhookSender:
    """Posts pending messages to `url`; use as `async with WebhookSender(url, store):`."""

    def __init__(self, url: str, store: MessageStore, *, timeout_s: float = 10.0,
                 backoff_s: float = 2.0, max_backoff_s: float = 600.0, batch: int = 20,
                 clock: Callable[[], float] = time.time) -> None:
        self.url = url
        self.store = store
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.batch = batch
        self._clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.delivered = 0
        self.failed = 0
        store.on_added(lambda _id, _kind: self.wake())

    async def __aenter__(self) -> WebhookSender:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start the background loop; rows left pending by an earlier run are sent first."""
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        self._session = aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": "TOM"})
        self._task = asyncio.create_task(self._loop(), name="webhook-sender")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session:
            await self._session.close()
            self._session = None

    def wake(self) -> None:
        """A new row was committed: try now instead of at the next scheduled retry."""
        self._wake.set()

    async def deliver_due(self) -> int:
        """One pass over the due rows; returns how many the receiver accepted."""
        assert self._session is not None, "call start() first"
        sent = 0
        for row in await self.store.due_for_webhook(self.batch):
            error = await self._post(row)
            if error is None:
                await self.store.mark_delivered(row["id"])
                self.delivered += 1
                sent += 1
                log.info("webhook_delivered", id=row["id"], kind=row["kind"])
            else:
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** row["webhook_attempts"])
                await self.store.mark_failed(row["id"], error, self._clock() + delay)
                self.failed += 1
                log.warning("webhook_failed", id=row["id"], error=error, retry_in_s=delay,
                            attempts=row["webhook_attempts"] + 1)
        return sent

    async def _post(self, row: dict[str, Any]) -> str | None:
        assert self._session is not None
        headers = {"Idempotency-Key": f"tom-message-{row['id']}"}
        try:
            async with self._session.post(self.url, json=payload(row), headers=headers) as resp:
                if 200 <= resp.status < 300:
                    return None
                return f"HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.deliver_due()
                next_at = await self.store.next_webhook_at()
            except Exception as exc:  # a broken disk must not kill the sender silently
                log.error("webhook_loop_error", error=str(exc))
                next_at = self._clock() + self.backoff_s
            timeout = None if next_at is None else max(0.05, next_at - self._clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
