"""SipSink: busy answers per `sip.busy`, REFER only to the profile's number, fallback on failure.

The SIP stack is replaced by a handle that records what TOM asked of it (one unit: the sink).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import structlog

from tom.config import Settings
from tom.monitor import events as ev
from tom.telephony.sip.agent import SipAgent, SipSink
from tom.telephony.sip.events import Disconnected, TransferStatus
from tom.telephony.sip.media import FrameBuffer


@dataclass
class Profile:
    transfer_number: str = "+49 761 4589321"


@dataclass
class Host:
    settings: Settings
    bus: ev.EventBus = field(default_factory=ev.EventBus)
    profile: Profile = field(default_factory=Profile)


@dataclass
class Handle:
    """Records the SIP actions; `answered` flips like the real one."""

    answered: bool = False
    gone: bool = False
    actions: list[tuple] = field(default_factory=list)
    media: FrameBuffer = field(default_factory=lambda: FrameBuffer(lambda item: None))
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    transfers: asyncio.Queue = field(default_factory=asyncio.Queue)

    async def answer(self):
        self.actions.append(("answer",))
        self.answered = True

    async def reject(self, code, headers=None):
        self.actions.append(("reject", code, headers))

    async def hang_up(self):
        self.actions.append(("bye",))

    async def transfer(self, uri):
        self.actions.append(("refer", uri))


def sink(handle: Handle, **sip) -> tuple[SipSink, Host]:
    host = Host(Settings.load(env={}, overrides={"sip": {"transfer_domain": "pbx.example",
                                                         **sip}}))
    agent = SipAgent(host)  # type: ignore[arg-type]
    return SipSink(agent, handle, structlog.get_logger()), host  # type: ignore[arg-type]


async def test_busy_486_or_503_with_retry_after():
    handle = Handle()
    s, _ = sink(handle, busy="486")
    await s.hang_up("busy")
    assert handle.actions == [("reject", 486, None)]
    handle = Handle()
    s, _ = sink(handle, busy="503", retry_after_s=45)
    await s.hang_up("busy")
    assert handle.actions == [("reject", 503, {"Retry-After": "45"})]


async def test_busy_message_answers_first_then_hangs_up():
    handle = Handle()
    s, _ = sink(handle, busy="message")
    await s.send_audio(b"\0" * 320)  # the busy message is heard on an answered call
    handle.media.next_frame()
    await s.hang_up("busy")
    assert handle.actions == [("answer",), ("bye",)]


async def test_transfer_refers_to_the_profile_number_and_hangs_up_on_success():
    handle = Handle(answered=True)
    s, _ = sink(handle)
    await s.hang_up("transfer")
    await s.close()  # the line closes; the transfer task owns the hang-up now
    handle.transfers.put_nowait(TransferStatus(100, "Trying", False))
    handle.transfers.put_nowait(TransferStatus(200, "OK", True))
    await asyncio.wait_for(s.transferring, 5)
    assert handle.actions == [("refer", "sip:+497614589321@pbx.example"), ("bye",)]


async def test_failed_transfer_falls_back_to_hanging_up_and_says_why():
    handle = Handle(answered=True)
    s, host = sink(handle)
    errors: list[ev.CallError] = []
    host.bus.listen(lambda e: errors.append(e) if isinstance(e, ev.CallError) else None)
    await s.hang_up("transfer")
    handle.transfers.put_nowait(TransferStatus(486, "Busy Here", True))
    await asyncio.wait_for(s.transferring, 5)
    assert handle.actions[-1] == ("bye",)
    assert [e.kind for e in errors] == ["transfer_failed"]
    assert "486" in errors[0].message


async def test_no_transfer_number_means_no_refer():
    handle = Handle(answered=True)
    s, host = sink(handle)
    host.profile.transfer_number = ""
    await s.hang_up("transfer")
    await asyncio.wait_for(s.transferring, 5)
    assert handle.actions == [("bye",)]


async def test_caller_leaving_after_the_refer_ends_the_transfer_quietly():
    handle = Handle(answered=True)
    s, _ = sink(handle)
    await s.hang_up("transfer")
    handle.transfers.put_nowait(Disconnected(200, "Normal call clearing"))
    await asyncio.wait_for(s.transferring, 5)
    assert handle.actions == [("refer", "sip:+497614589321@pbx.example")]
