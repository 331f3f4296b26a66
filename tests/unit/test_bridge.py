"""The shared bridge helper: the outbound pump, busy refusal, fail/refuse and closing."""

from __future__ import annotations

import asyncio

import pytest
from fake_bridge_host import FakeCall, FakeHost

from tom.audio import frame_bytes
from tom.engine.playback import AudioOut, ClearOut, EndOut, MarkOut
from tom.monitor import events as ev
from tom.telephony import bridge
from tom.telephony.bridge import CallLine, OutboundSink, pump_outbound
from tom.telephony.errors import ProtocolError

FRAME = frame_bytes(8000)


class RecordingSink(OutboundSink):
    """Writes down every call the line makes, in order."""

    def __init__(self, fail_on_audio: BaseException | None = None) -> None:
        self.sent: list[tuple[object, ...]] = []
        self.is_closed = False
        self.fail_on_audio = fail_on_audio

    @property
    def closed(self) -> bool:
        return self.is_closed

    async def opened(self, call_id: str) -> None:
        self.sent.append(("opened", call_id))

    async def send_audio(self, pcm: bytes) -> None:
        if self.fail_on_audio is not None:
            raise self.fail_on_audio
        self.sent.append(("audio", pcm))

    async def send_mark(self, name: str) -> None:
        self.sent.append(("mark", name))

    async def send_clear(self) -> None:
        self.sent.append(("clear",))

    async def hang_up(self, action: str) -> None:
        self.sent.append(("hang_up", action))
        self.is_closed = True

    async def abort(self, kind: str, message: str) -> None:
        self.sent.append(("abort", kind, message))
        self.is_closed = True

    async def close(self) -> None:
        self.sent.append(("close",))
        self.is_closed = True

    def kinds(self) -> list[object]:
        return [s[0] for s in self.sent]


# --- the pump -------------------------------------------------------------------------------------


async def test_pump_hands_each_item_to_the_sink_in_order():
    waits: list[float] = []

    async def recorded_sleep(seconds: float) -> None:
        waits.append(seconds)

    call, sink = FakeCall("c1"), RecordingSink()
    call.say(AudioOut(b"\x01\x00" * 160), MarkOut("seg-1"), ClearOut(), AudioOut(b"\x02\x00"),
             EndOut("transfer", "caller asked for a person"), AudioOut(b"never sent"))
    await pump_outbound(call, sink, hangup_delay_s=0.3, sleep=recorded_sleep)
    assert sink.sent == [("audio", b"\x01\x00" * 160), ("mark", "seg-1"), ("clear",),
                         ("audio", b"\x02\x00"), ("hang_up", "transfer")]
    assert waits == [0.3]  # the one end-of-call delay, before the hang-up


async def test_pump_ends_when_the_call_ends_without_hanging_up():
    call, sink = FakeCall("c1"), RecordingSink()
    call.say(AudioOut(b"\x00\x00"))
    await call.end(ev.Outcome.HUNG_UP_BY_CALLER, "caller hung up")
    await pump_outbound(call, sink, 0.0)
    assert sink.sent == [("audio", b"\x00\x00")]


async def test_pump_stops_once_the_sink_is_closed():
    call, sink = FakeCall("c1"), RecordingSink()
    sink.is_closed = True
    call.say(AudioOut(b"\x00\x00"), EndOut("hangup"))
    await pump_outbound(call, sink, 0.0)
    assert sink.sent == []


async def test_pump_ends_quietly_when_the_peer_vanished():
    call, sink = FakeCall("c1"), RecordingSink(fail_on_audio=ConnectionResetError("gone"))
    call.say(AudioOut(b"\x00\x00"), EndOut("hangup"))
    await pump_outbound(call, sink, 0.0)  # no exception
    assert sink.sent == []


# --- opening, busy --------------------------------------------------------------------------------


async def test_open_announces_the_call_before_its_audio_and_pumps_it():
    host, sink = FakeHost(), RecordingSink()
    line = CallLine(host, sink, transport="twilio")
    call = await line.open(caller="+1555", call_id="CA1")
    assert isinstance(call, FakeCall) and line.call is call
    assert host.open_args == [{"transport": "twilio", "caller": "+1555", "call_id": "CA1",
                               "in_rate": 8000, "out_rate": 8000}]
    call.say(AudioOut(b"\x05\x00"), EndOut("hangup"))
    await call.end(ev.Outcome.COMPLETED, "conversation finished")
    await line.close()
    assert sink.sent == [("opened", "CA1"), ("audio", b"\x05\x00"), ("hang_up", "hangup"),
                         ("close",)]


async def test_busy_caller_hears_the_whole_busy_message_then_tom_hangs_up():
    busy_pcm = b"\x07\x00" * (FRAME // 2 * 3 + 5)  # three frames and a bit
    host, sink = FakeHost(busy=True, busy_pcm=busy_pcm), RecordingSink()
    line = CallLine(host, sink, transport="audiosocket")
    assert await line.open(caller="", call_id="u1") is None
    assert line.call is None
    audio = [s[1] for s in sink.sent if s[0] == "audio"]
    assert len(audio) == 4 and all(len(f) == FRAME for f in audio)
    assert b"".join(audio)[:len(busy_pcm)] == busy_pcm
    assert sink.sent[-1] == ("hang_up", "busy")
    assert host.errors() == []  # busy is not an error


async def test_busy_without_a_message_only_hangs_up():
    host, sink = FakeHost(busy=True, busy_pcm=bytes(FRAME * 3)), RecordingSink()
    line = CallLine(host, sink, transport="browser")
    assert await line.open(caller="browser", rate=16000, busy_message=False) is None
    assert sink.sent == [("hang_up", "busy")]
    assert host.open_args[0]["in_rate"] == host.open_args[0]["out_rate"] == 16000


# --- fail, refuse, run, close ---------------------------------------------------------------------


async def test_failure_with_a_call_fails_that_call_and_aborts_the_line():
    host, sink = FakeHost(), RecordingSink()
    line = CallLine(host, sink, transport="twilio")
    call = await line.open(caller="")
    await line.fail("protocol", "unknown Twilio event 'dance'")
    assert call.failed_with == ("protocol", "unknown Twilio event 'dance'")
    assert ("abort", "protocol", "unknown Twilio event 'dance'") in sink.sent
    assert host.errors() == []  # the call publishes its own error


async def test_failure_before_a_call_publishes_a_call_less_error():
    host, sink = FakeHost(), RecordingSink()
    line = CallLine(host, sink, transport="audiosocket")
    await line.fail("protocol", "AudioSocket stream must start with a UUID message")
    [error] = host.errors()
    assert (error.call_id, error.kind) == ("", "protocol")
    assert "UUID" in error.message
    assert sink.sent == [("abort", "protocol", "AudioSocket stream must start with a UUID message")]


async def _run_with(receive_error: BaseException | None) -> tuple[FakeHost, RecordingSink,
                                                                   FakeCall]:
    host, sink = FakeHost(), RecordingSink()
    line = CallLine(host, sink, transport="twilio")

    async def receive() -> None:
        await line.open(caller="")
        if receive_error is not None:
            raise receive_error

    await line.run(receive, closed_reason="stream closed by the caller")
    return host, sink, host.calls[0]


async def test_run_ends_a_call_the_peer_closed_as_hung_up_by_the_caller():
    _, sink, call = await _run_with(None)
    assert call.ended_with == (ev.Outcome.HUNG_UP_BY_CALLER, "stream closed by the caller")
    assert sink.sent[-1] == ("close",)


async def test_run_fails_the_call_on_a_protocol_error():
    _, sink, call = await _run_with(ProtocolError("Twilio message is not valid JSON"))
    assert call.failed_with == ("protocol", "Twilio message is not valid JSON")
    assert sink.kinds()[-2:] == ["abort", "close"]


async def test_run_ends_the_call_when_the_connection_is_lost():
    _, _, call = await _run_with(ConnectionResetError("reset by peer"))
    assert call.failed_with is None
    assert call.ended_with == (ev.Outcome.HUNG_UP_BY_CALLER, "connection lost: reset by peer")


async def test_run_turns_a_bug_into_an_internal_failure_of_that_call_only():
    _, _, call = await _run_with(KeyError("oops"))
    assert call.failed_with == ("internal", "KeyError: 'oops'")


async def test_run_does_not_swallow_cancellation():
    host, sink = FakeHost(), RecordingSink()
    line = CallLine(host, sink, transport="audiosocket")
    opened = asyncio.Event()

    async def receive() -> None:
        await line.open(caller="")
        opened.set()
        await asyncio.Event().wait()  # a peer that never sends

    task = asyncio.create_task(line.run(receive, closed_reason="connection closed"))
    await opened.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert host.calls[0].ended_with == (ev.Outcome.HUNG_UP_BY_CALLER, "connection closed")
    assert sink.sent[-1] == ("close",)


async def test_close_gives_up_on_a_pump_that_cannot_deliver(monkeypatch):
    monkeypatch.setattr(bridge, "PUMP_DRAIN_S", 0.01)
    stuck = asyncio.Event()

    class StuckSink(RecordingSink):
        async def send_audio(self, pcm: bytes) -> None:
            stuck.set()
            await asyncio.Event().wait()  # a peer that stopped reading

    host, sink = FakeHost(), StuckSink()
    line = CallLine(host, sink, transport="twilio")
    call = await line.open(caller="")
    call.say(AudioOut(b"\x00\x00"))
    await stuck.wait()
    await call.end(ev.Outcome.HUNG_UP_BY_CALLER, "caller hung up")
    await line.close()
    assert sink.sent[-1] == ("close",)


async def test_a_refused_caller_who_hangs_up_is_peer_gone_without_a_traceback() -> None:
    host = FakeHost(busy=True, busy_pcm=bytes(FRAME * 10))
    sink = RecordingSink(fail_on_audio=ConnectionResetError("Cannot write to closing transport"))
    line = CallLine(host, sink, transport="test", peer="10.0.0.1")
    assert await line.open(caller="") is None
    assert [e.kind for e in host.errors()] == ["peer_gone"]


async def test_a_source_over_its_refusal_budget_hears_no_busy_message() -> None:
    host = FakeHost(busy=True, busy_pcm=bytes(FRAME))
    budget = int(host.guards.limits.refusals_per_min)
    heard = []
    for _ in range(budget + 1):
        sink = RecordingSink()
        await CallLine(host, sink, transport="test", peer="10.0.0.2").open(caller="")
        heard.append("audio" in sink.kinds())
    assert heard == [True] * budget + [False]


async def test_feed_refuses_oversized_frames_and_audio_faster_than_real_time() -> None:
    host = FakeHost()
    line = CallLine(host, RecordingSink(), transport="test")
    await line.open(caller="")
    with pytest.raises(ProtocolError, match="ms per message"):
        line.feed(bytes(2 * 8000 * 2))  # 2 s in one message
    with pytest.raises(ProtocolError) as flood:
        for _ in range(200):  # 4 s of audio at once
            line.feed(bytes(FRAME))
    assert flood.value.kind == "overload"
    await line.close()
