"""A fake call and a fake assistant, shaped like what `tom.telephony.bridge` uses of the real
ones, so each bridge can be tested on its wire without models."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from tom.config import Settings
from tom.engine.playback import Outbound
from tom.monitor import events as ev
from tom.registry import CallsBusy
from tom.telephony.limits import Guards


class FakeCall:
    """Records what the transport did to it; `say(...)` queues TOM's side of the call."""

    def __init__(self, call_id: str) -> None:
        self.id = call_id
        self.fed: list[bytes] = []
        self.digits: list[str] = []
        self.played_marks: list[str] = []
        self.ended_with: tuple[str, str] | None = None
        self.failed_with: tuple[str, str] | None = None
        self._out: asyncio.Queue[Outbound | None] = asyncio.Queue()

    @property
    def ended(self) -> bool:
        return self.ended_with is not None

    def feed(self, pcm16: bytes, arrival_ns: int | None = None) -> None:
        assert not self.ended, "audio fed to an ended call"
        self.fed.append(pcm16)

    async def dtmf(self, digit: str) -> None:
        self.digits.append(digit)

    def played(self, mark: str) -> None:
        self.played_marks.append(mark)

    def say(self, *items: Outbound) -> None:
        for item in items:
            self._out.put_nowait(item)

    async def outbound(self) -> AsyncIterator[Outbound]:
        while (item := await self._out.get()) is not None:
            yield item

    async def end(self, outcome: ev.Outcome, reason: str = "") -> None:
        if self.ended_with is None:
            self.ended_with = (outcome, reason)
            self._out.put_nowait(None)

    async def fail(self, kind: str, message: str) -> None:
        self.failed_with = (kind, message)
        await self.end(ev.Outcome.ERROR, message)


class FakeRecord:
    def __init__(self, outcome: str | None) -> None:
        self.outcome = outcome


class FakeProfile:
    def __init__(self, transfer_number: str) -> None:
        self.transfer_number = transfer_number


class FakeRegistry:
    def __init__(self) -> None:
        self.records: dict[str, FakeRecord] = {}

    def get(self, call_id: str) -> FakeRecord | None:
        return self.records.get(call_id)


class FakeHost:
    """Opens `FakeCall`s, or refuses every call when `busy`."""

    def __init__(self, *, busy: bool = False, busy_pcm: bytes = b"",
                 transfer_number: str = "", **sections: dict[str, object]) -> None:
        raw: dict[str, dict[str, object]] = {"server": {"hangup_delay_ms": 0},
                                             "audiosocket": {"host": "127.0.0.1", "port": 0}}
        for name, values in sections.items():
            raw.setdefault(name, {}).update(values)
        self.settings = Settings.load(overrides=raw, env={})
        self.bus = ev.EventBus()
        self.registry = FakeRegistry()
        self.profile = FakeProfile(transfer_number) if transfer_number else None
        self.busy = busy
        self.busy_pcm = busy_pcm
        self.calls: list[FakeCall] = []
        self.open_args: list[dict[str, object]] = []
        self.events: list[ev.Event] = []
        self.bus.listen(self.events.append)
        self.call_ready = asyncio.Event()
        self.guards = Guards()

    async def open_call(self, *, transport: str, caller: str = "", call_id: str | None = None,
                        in_rate: int = 8000, out_rate: int = 8000) -> FakeCall:
        self.open_args.append({"transport": transport, "caller": caller, "call_id": call_id,
                               "in_rate": in_rate, "out_rate": out_rate})
        if self.busy:
            raise CallsBusy("all 1 lines are busy")
        call = FakeCall(call_id or f"call-{len(self.calls) + 1}")
        self.calls.append(call)
        self.call_ready.set()
        return call

    async def busy_audio(self, out_rate: int) -> bytes:
        return self.busy_pcm

    def errors(self) -> list[ev.CallError]:
        return [e for e in self.events if isinstance(e, ev.CallError)]
