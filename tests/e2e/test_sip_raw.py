"""SIP and RTP that real phones rarely send, from a hand-written caller (sip_raw.py): SIP INFO
DTMF, CANCEL around the answer, RTP with the wrong payload type or from the wrong address,
unknown methods and truncated requests. Each case ends alone; the agent goes on answering.
"""

from __future__ import annotations

import asyncio

import pytest
from sip_raw import (
    RawCaller,
    RtpSender,
    count_datagrams,
    drain,
    one_shot,
    sdp,
    tom_rtp_address,
    udp_socket,
)
from tomtest import e2e_settings, running_server

from tom.monitor import events as ev

pytestmark = pytest.mark.e2e

TRANSFER_NUMBER = "+497614589321"  # the demo profile's
RTP_RATE = 50  # TOM sends one 20 ms packet every 20 ms, speech or silence


@pytest.fixture(scope="module")
async def raw_server(tmp_path_factory):
    settings = e2e_settings(tmp_path_factory.mktemp("tom"), server={"max_calls": 2},
                            sip={"enabled": True, "port": 0, "transfer_domain": "127.0.0.1"})
    async with running_server(settings) as srv:
        yield srv


@pytest.fixture
async def caller(raw_server):
    c = RawCaller(raw_server.sip.port)
    yield c
    if c.remote_tag:  # a test that failed half-way leaves no call behind for the next
        c.send_bye()
    c.close()


def events_of(server, kind: type) -> list:
    seen: list = []
    server.bus.listen(lambda e: seen.append(e) if isinstance(e, kind) else None)
    return seen


async def ended(server, call_id: str, within_s: float = 10) -> str | None:
    """The outcome once the call has left the registry's active list."""
    for _ in range(int(within_s / 0.1)):
        if call_id not in server.assistant.registry.active:
            record = server.assistant.registry.get(call_id)
            return None if record is None else record.outcome
        await asyncio.sleep(0.1)
    raise AssertionError(f"call {call_id} still active after {within_s} s")


# --- DTMF by SIP INFO -----------------------------------------------------------------------


async def test_info_dtmf_zero_refers_to_the_transfer_number(raw_server, caller):
    """INFO application/dtmf-relay Signal=0 reaches TOM as the digit 0, as RFC 4733's does:
    TOM sends a REFER to the profile's number (this caller declines it: TOM's fallback)."""
    started = events_of(raw_server, ev.CallStarted)
    digits = events_of(raw_server, ev.Dtmf)
    errors = events_of(raw_server, ev.CallError)
    await asyncio.to_thread(caller.call)
    await asyncio.sleep(2)  # into the greeting
    caller.send_info_dtmf("0")
    info = await asyncio.to_thread(caller.wait_for, "INFO", final=True)
    assert info is not None and info.status == 200, caller.firsts()
    refer = await asyncio.to_thread(caller.wait_for, "REFER", timeout_s=20)
    assert refer is not None, caller.firsts()
    assert f"sip:{TRANSFER_NUMBER}@127.0.0.1" in refer.headers.get("refer-to", ""), refer
    bye = await asyncio.to_thread(caller.wait_for, "BYE", timeout_s=20)
    assert bye is not None, caller.firsts()  # the REFER was declined: TOM hangs up
    call_id = started[0].call_id
    assert [d.digit for d in digits if d.call_id == call_id] == ["0"]
    assert await ended(raw_server, call_id) == "transferred"
    assert any(e.kind == "transfer_failed" and "603" in e.message for e in errors), errors


async def test_info_without_a_keypad_digit_is_ignored(raw_server, caller):
    """INFOs whose Signal is no keypad key (or whose body is not dtmf-relay) are answered and
    dropped: no digit reaches the call, which goes on until the caller's BYE."""
    started = events_of(raw_server, ev.CallStarted)
    digits = events_of(raw_server, ev.Dtmf)
    await asyncio.to_thread(caller.call)
    answers = []
    for body, kind in (("Signal=Z\r\nDuration=160\r\n", "application/dtmf-relay"),
                       ("Signal=\r\n", "application/dtmf-relay"),
                       ("Signal=<script>\r\n", "application/dtmf-relay"),
                       ("junk", "application/x-junk")):
        caller.send(caller.request("INFO", body=body, content_type=kind))
        answer = await asyncio.to_thread(caller.wait_for, "INFO", final=True)
        answers.append(answer.status if answer else None)
    # PJSIP answers every dtmf-relay INFO 200 and leaves other INFO bodies to the dialog (500)
    assert answers == [200, 200, 200, 500], (answers, caller.firsts())
    call_id = started[0].call_id
    assert call_id in raw_server.assistant.registry.active
    assert not [d for d in digits if d.call_id == call_id], digits
    bye = await asyncio.to_thread(caller.hang_up)
    assert bye is not None and bye.status == 200, caller.firsts()
    assert await ended(raw_server, call_id) == "hung_up_by_caller"


# --- CANCEL -------------------------------------------------------------------------------


async def test_cancel_before_the_answer_gets_487(raw_server):
    """TOM sends 180 and answers ~10 ms later: a CANCEL sent right behind the INVITE finds it
    ringing → 200 for the CANCEL, 487 for the INVITE, no call left active. Should TOM's
    answer win the race after all (two threads, shared cores), that call is ended by BYE
    and the CANCEL tried again, at most three times."""
    started = events_of(raw_server, ev.CallStarted)
    port = raw_server.sip.port
    lost = []
    for _ in range(3):
        before = len(started)
        caller = RawCaller(port)
        try:
            caller.send_invite()
            caller.send_cancel()
            final = await asyncio.to_thread(caller.wait_for, "INVITE", final=True)
            assert final is not None, caller.firsts()
            caller.send_ack(final)
            if final.status == 200:  # answered first: the CANCEL came too late
                lost.append(caller.firsts())
                bye = await asyncio.to_thread(caller.hang_up)
                assert bye is not None and bye.status == 200, caller.firsts()
                continue
            assert final.status == 487, caller.firsts()
            cancel = [m.status for m in caller.received if m.method == "CANCEL"]
            assert cancel == [200], caller.firsts()
            assert "SIP/2.0 180 Ringing" in caller.firsts()
            for e in started[before:]:  # TOM may have opened the call already
                assert await ended(raw_server, e.call_id) == "hung_up_by_caller"
            break
        finally:
            caller.close()
    else:
        raise AssertionError(f"TOM answered before every CANCEL: {lost}")
    second = RawCaller(port)  # the agent goes on answering
    try:
        await asyncio.to_thread(second.call)
        bye = await asyncio.to_thread(second.hang_up)
        assert bye is not None and bye.status == 200, second.firsts()
    finally:
        second.close()


async def test_cancel_after_the_answer_is_refused_and_bye_ends_the_call(raw_server, caller):
    """Once the 200 is out the INVITE transaction is over (RFC 3261 §9.2): the CANCEL matches
    nothing, the call goes on, and the caller's BYE ends it."""
    started = events_of(raw_server, ev.CallStarted)
    await asyncio.to_thread(caller.call)
    caller.send_cancel()
    cancel = await asyncio.to_thread(caller.wait_for, "CANCEL", final=True)
    assert cancel is not None and cancel.status == 481, caller.firsts()
    call_id = started[0].call_id
    await asyncio.sleep(1)
    assert call_id in raw_server.assistant.registry.active
    bye = await asyncio.to_thread(caller.hang_up)
    assert bye is not None and bye.status == 200, caller.firsts()
    assert await ended(raw_server, call_id) == "hung_up_by_caller"


# --- RTP ------------------------------------------------------------------------------------


async def test_rtp_of_a_wrong_type_or_from_elsewhere_is_dropped(raw_server, caller):
    """While the caller's own RTP keeps coming, packets with payload types it never offered
    (18, 96), from another port and from another address, and non-RTP datagrams are
    dropped: TOM's RTP keeps going to the address the caller's SDP named, none reaches the
    strangers, the call goes on until the caller's BYE, and a next call works."""
    started = events_of(raw_server, ev.CallStarted)
    answer = await asyncio.to_thread(caller.call)
    tom = tom_rtp_address(answer.body)
    call_id = started[0].call_id
    strangers = [udp_socket(), udp_socket("127.0.0.2")]
    sender = RtpSender(tom)
    sender.add(caller.rtp, 0, 0x1111)  # the caller: PCMU as offered
    sender.add(caller.rtp, 96, 0x1111)  # same source, a payload type never negotiated
    sender.add(caller.rtp, 18, 0x1111)  # G.729's static type: not offered either
    for s in strangers:
        sender.add(s, 0, 0x2222)  # PCMU from somewhere else
    try:
        sender.start()
        for junk in (b"\x00", b"\x80" * 11, b"\xc0\x00garbage" * 30):  # not RTP, or cut short
            strangers[0].sendto(junk, tom)
        await asyncio.sleep(0.5)
        drain(caller.rtp)
        heard = await asyncio.to_thread(caller.rtp_count, 2.0)
        assert sender.sent > 60, sender.sent
        assert heard >= RTP_RATE, heard  # 2 s of TOM's 50 packets a second, minus slack
        for s in strangers:
            assert count_datagrams(s, 0.2) == 0
        assert call_id in raw_server.assistant.registry.active
    finally:
        sender.stop()
        for s in strangers:
            s.close()
    bye = await asyncio.to_thread(caller.hang_up)
    assert bye is not None and bye.status == 200, caller.firsts()
    assert await ended(raw_server, call_id) == "hung_up_by_caller"
    second = RawCaller(raw_server.sip.port)
    bye = None
    try:
        await asyncio.to_thread(second.call)
        assert await asyncio.to_thread(second.rtp_count, 1.0) > 0, second.firsts()
        bye = await asyncio.to_thread(second.hang_up)
        assert bye is not None and bye.status == 200, second.firsts()
    finally:
        if second.remote_tag and bye is None:  # failed half-way: leave no call to the next test
            second.send_bye()
        second.close()


async def test_rtp_follows_a_new_source_once_the_caller_goes_quiet(raw_server, caller):
    """Symmetric RTP (what NAT'd phones need), as PJSIP 2.15 does it: once the caller's own RTP
    stops and 10 packets in a row come from one new source, TOM sends its RTP there."""
    started = events_of(raw_server, ev.CallStarted)
    answer = await asyncio.to_thread(caller.call)
    tom = tom_rtp_address(answer.body)
    moved = udp_socket()
    sender = RtpSender(tom)
    sender.add(caller.rtp, 0, 0x3333)
    try:
        sender.start()
        await asyncio.sleep(0.5)
        sender.sources = [(moved, 0, 0x3333)]  # the caller's NAT binding changed
        await asyncio.sleep(1)
        drain(caller.rtp)
        drain(moved)
        assert await asyncio.to_thread(count_datagrams, moved, 1.0) >= RTP_RATE // 2
        assert count_datagrams(caller.rtp, 0.1) == 0
    finally:
        sender.stop()
        moved.close()
    bye = await asyncio.to_thread(caller.hang_up)
    assert bye is not None and bye.status == 200, caller.firsts()
    assert await ended(raw_server, started[0].call_id) == "hung_up_by_caller"


# --- unknown methods, malformed requests ---------------------------------------------------


async def test_unknown_methods_and_truncated_requests(raw_server, caller):
    port = raw_server.sip.port

    def fresh(method: str, **kw) -> bytes:
        probe = RawCaller(port)  # only its request text is used: one_shot has its own socket
        try:
            return probe.request(method, to_tag="", cseq=1, **kw)
        finally:
            probe.close()

    out_of_dialog = {m: await asyncio.to_thread(one_shot, port, fresh(m))
                     for m in ("FOO", "PUBLISH", "BYE", "INFO")}
    statuses = {m: (a.status if a else None) for m, a in out_of_dialog.items()}
    assert statuses == {"FOO": 501, "PUBLISH": 501, "BYE": 481, "INFO": 481}, statuses

    offer = RawCaller(port)  # an INVITE with a good PCMU offer, then cut in two ways
    try:
        invite = offer.request("INVITE", to_tag="", cseq=1, body=sdp(offer.rtp_port),
                               content_type="application/sdp")
    finally:
        offer.close()
    headers_cut = invite[: len(invite) // 3]  # in the middle of a header: PJSIP drops it
    body_cut = invite[:-20]  # the SDP's last line lost: Content-Length promises more
    assert await asyncio.to_thread(one_shot, port, headers_cut, 2) is None
    answer = await asyncio.to_thread(one_shot, port, body_cut)
    assert answer is not None and answer.status == 400, answer  # RFC 3261 §18.3
    assert not raw_server.assistant.registry.active  # neither became a call

    started = events_of(raw_server, ev.CallStarted)
    await asyncio.to_thread(caller.call)
    caller.send(caller.request("FOO"))
    foo = await asyncio.to_thread(caller.wait_for, "FOO", final=True)
    # in a dialog PJSIP's dialog layer answers what no usage took: 500, and the call goes on
    assert foo is not None and foo.status == 500, caller.firsts()
    caller.send(caller.request("BYE", call_id=f"other-{caller.call_id}", to_tag="nosuchtag"))
    stray = await asyncio.to_thread(caller.wait_for, "BYE", final=True)
    assert stray is not None and stray.status == 481, caller.firsts()
    call_id = started[0].call_id
    assert call_id in raw_server.assistant.registry.active
    bye = await asyncio.to_thread(caller.hang_up)
    assert bye is not None and bye.status == 200, caller.firsts()
    assert await ended(raw_server, call_id) == "hung_up_by_caller"
    options = await asyncio.to_thread(one_shot, port, fresh("OPTIONS"))
    assert options is not None and options.status == 200


async def test_a_latin1_display_name_is_read_as_latin1(raw_server, caller):
    """SIP text is UTF-8, but older PBXs send "Müller" in Latin-1: the call is taken and its
    caller reads "Müller", not a lone surrogate that would reach events, logs and dashboard."""
    started = events_of(raw_server, ev.CallStarted)
    caller.display_name = b'"M\xfcller"'
    await asyncio.to_thread(caller.call)
    assert started and started[0].caller == '"Müller" <sip:raw@127.0.0.1>', started
    bye = await asyncio.to_thread(caller.hang_up)
    assert bye is not None and bye.status == 200, caller.firsts()
    assert await ended(raw_server, started[0].call_id) == "hung_up_by_caller"
