"""Webhook delivery against a real local aiohttp server: JSON, retries, outage, restart."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from aiohttp import web

from tom.conversation.messages import MessageStore
from tom.conversation.webhook import WebhookSender

WAIT_S = 10  # a hang guard, not a speed assertion


class Receiver:
    """A local webhook receiver that fails the first `fail_first` posts."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.calls = 0
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        self.got = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        if self.calls <= self.fail_first:
            return web.Response(status=503)
        self.bodies.append(await request.json())
        self.headers.append(dict(request.headers))
        self.got.set()
        return web.json_response({"ok": True})


async def serve(receiver: Receiver, port: int = 0) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{bound}/hook"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "tom.db"


async def wait_until(predicate, what: str) -> None:
    """Poll SQLite (delivery marks raise no event) for at most WAIT_S."""
    for _ in range(int(WAIT_S / 0.02)):
        if await predicate():
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"gave up waiting for {what}")


async def test_a_new_message_is_posted_as_json_and_marked_delivered(db: Path) -> None:
    receiver = Receiver()
    runner, url = await serve(receiver)
    store = MessageStore(db)
    try:
        async with WebhookSender(url, store):
            mid = await store.add_message("call-7", "+4917612345678", "Jörg Müller",
                                          "01761234567", "Grüße, bitte zurückrufen")
            await asyncio.wait_for(receiver.got.wait(), WAIT_S)
            await wait_until(lambda: _delivered(store, mid), "delivered mark")
        body = receiver.bodies[0]
        assert body["id"] == mid and body["kind"] == "message"
        assert body["name"] == "Jörg Müller" and body["text"] == "Grüße, bitte zurückrufen"
        assert body["callback_number"] == "01761234567" and body["call_id"] == "call-7"
        assert body["created_at"].endswith("+00:00")
        assert receiver.headers[0]["Idempotency-Key"] == f"tom-message-{mid}"
    finally:
        store.close()
        await runner.cleanup()


async def test_failures_are_retried_with_backoff(db: Path) -> None:
    receiver = Receiver(fail_first=2)
    runner, url = await serve(receiver)
    store = MessageStore(db)
    try:
        async with WebhookSender(url, store, backoff_s=0.05) as sender:
            mid = await store.add_appointment("c", "", "Ann", "2025-05-13 (Tuesday)", "10:00", "x")
            await wait_until(lambda: _delivered(store, mid), "delivery after retries")
        assert receiver.calls == 3
        assert sender.failed == 2 and sender.delivered == 1
        row = await store.get(mid)
        assert row["webhook_attempts"] == 2 and row["webhook_error"] == ""
    finally:
        store.close()
        await runner.cleanup()


async def test_messages_wait_while_the_receiver_is_down_and_go_after_restart(db: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    store = MessageStore(db)
    try:
        sender = WebhookSender(url, store, backoff_s=0.05, timeout_s=2)
        await sender.start()
        mid = await store.add_message("c", "", "Ann", "0123456", "while down")

        async def failed_twice() -> bool:
            return (await store.get(mid))["webhook_attempts"] >= 2
        await wait_until(failed_twice, "failed attempts")
        await sender.stop()  # TOM stops with the message still pending
        row = await store.get(mid)
        assert row["webhook_pending"] == 1 and row["delivered_at"] is None
        assert row["webhook_error"]
    finally:
        store.close()

    receiver = Receiver()
    runner, _ = await serve(receiver, port)
    reopened = MessageStore(db)  # a restarted TOM with a fresh store on the same file
    try:
        async with WebhookSender(url, reopened, backoff_s=0.05):
            await wait_until(lambda: _delivered(reopened, mid), "delivery after restart")
        assert [b["text"] for b in receiver.bodies] == ["while down"]
    finally:
        reopened.close()
        await runner.cleanup()


async def test_rows_pending_before_start_are_sent_once_each(db: Path) -> None:
    receiver = Receiver()
    runner, url = await serve(receiver)
    store = MessageStore(db)
    try:
        for i in range(3):
            await store.add_message("c", "", f"n{i}", "0123456", "x")
        async with WebhookSender(url, store) as sender:
            await wait_until(lambda: _all_delivered(store), "all delivered")
            assert await sender.deliver_due() == 0
        assert sorted(b["name"] for b in receiver.bodies) == ["n0", "n1", "n2"]
    finally:
        store.close()
        await runner.cleanup()


async def _delivered(store: MessageStore, mid: int) -> bool:
    row = await store.get(mid)
    return row is not None and row["webhook_pending"] == 0


async def _all_delivered(store: MessageStore) -> bool:
    return all(r["webhook_pending"] == 0 for r in await store.list())
