"""Native SIP e2e: baresip (a real SIP phone) calls TOM's PJSIP user agent over UDP.

baresip plays a WAV as its microphone and records what it hears; the recording is transcribed
with TOM's own Whisper to check the greeting and the answer the caller heard.
"""

from __future__ import annotations

import asyncio
import socket
import uuid

import aiohttp
import numpy as np
import pytest
import soxr
import structlog.testing
from sip_peers import Baresip, free_port, need
from tomtest import e2e_settings, running_server

from tom.audio import float_to_pcm16
from tom.monitor import events as ev

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def sip_server(tmp_path_factory):
    need("baresip")
    refuse_port = free_port(socket.SOCK_STREAM)  # nothing listens: the transfer target fails
    settings = e2e_settings(tmp_path_factory.mktemp("tom"), server={"max_calls": 1},
                            sip={"enabled": True, "port": 0, "busy": "486",
                                 "transfer_domain": f"127.0.0.1:{refuse_port};transport=tcp"})
    async with running_server(settings) as srv:
        yield srv


def mic(speech, text: str, before_s: float, after_s: float) -> bytes:
    """The caller's microphone: silence (TOM greets), `text`, then silence while TOM answers."""
    parts = [np.zeros(int(8000 * before_s))]
    if text:
        parts.append(speech(text, 8000))
    parts.append(np.zeros(int(8000 * after_s)))
    return float_to_pcm16(np.concatenate(parts))


async def heard_text(server, audio: np.ndarray, rate: int) -> str:
    samples = soxr.resample(audio, rate, 16000).astype(np.float32)
    out = await server.assistant.transcribe(samples)
    return out.value.text.lower()


def events_of(server, kind: type) -> list:
    seen: list = []
    server.bus.listen(lambda e: seen.append(e) if isinstance(e, kind) else None)
    return seen


async def test_question_answered_over_sip(sip_server, speech, tmp_path):
    started = events_of(sip_server, ev.CallStarted)
    phone = Baresip(tmp_path / "caller", mic(speech, "Where are you located?", 7, 9))
    with structlog.testing.capture_logs() as logs:
        phone.dial(f"sip:tom@127.0.0.1:{sip_server.sip.port}", max_s=40)
        try:
            run = await phone.finish(60)
        finally:
            phone.kill()
        await asyncio.sleep(0.5)  # the stream's statistics are logged as the call is torn down
    assert "Call established" in run.log, run.log[-2000:]
    stats = [e for e in logs if e["event"] == "media statistics"]  # what the line was like
    assert stats and stats[-1]["rx_packets"] > 100 and stats[-1]["tx_packets"] > 100, stats
    assert 0 < stats[-1]["jitter_buffer_ms"] <= 200, stats
    assert started and started[-1].transport == "sip"
    record = sip_server.assistant.registry.get(started[-1].call_id)
    caller = [t["text"] for t in record.transcript if t["role"] == "caller"]
    assert caller and "locat" in caller[0].lower(), record.transcript
    assert record.outcome == "hung_up_by_caller"
    heard = await heard_text(sip_server, run.heard, run.rate)
    assert "reached" in heard or "digital assistant" in heard, heard  # the greeting
    spoken = [t["text"] for t in record.transcript if t["role"] == "assistant"]
    assert len(spoken) >= 2, spoken  # greeting and an answer
    answer_words = {w for w in spoken[-1].lower().split() if len(w) > 4}
    assert any(w.strip(".,!?") in heard for w in answer_words), (heard, spoken[-1])
    async with aiohttp.ClientSession() as http, http.get(f"{sip_server.url}/metrics") as r:
        metrics = await r.text()
    assert 'tom_calls_total{outcome="hung_up_by_caller",transport="sip"} 1.0' in metrics
    async with aiohttp.ClientSession() as http, http.get(f"{sip_server.url}/readyz") as r:
        assert (await r.json())["listeners"]["sip"] is True


async def test_hold_and_resume_keep_the_call(sip_server, speech, tmp_path):
    """re-INVITE sendonly (hold) and back (resume): the call goes on and TOM still hears."""
    started = events_of(sip_server, ev.CallStarted)
    phone = Baresip(tmp_path / "caller", mic(speech, "Where are you located?", 12, 9))
    phone.dial(f"sip:tom@127.0.0.1:{sip_server.sip.port}", max_s=45)
    try:
        assert await phone.wait_log("Call established", 20), phone.log()[-2000:]
        await asyncio.sleep(5)
        phone.key("x")  # menu: hold
        assert await phone.wait_log("call: hold sip:", 5), phone.log()[-2000:]
        await asyncio.sleep(2)
        phone.key("X")  # menu: resume
        assert await phone.wait_log("call: resume sip:", 5), phone.log()[-2000:]
        run = await phone.finish(60)
    finally:
        phone.kill()
    record = sip_server.assistant.registry.get(started[-1].call_id)
    caller = [t["text"] for t in record.transcript if t["role"] == "caller"]
    assert any("locat" in c.lower() for c in caller), record.transcript
    assert record.outcome == "hung_up_by_caller", run.log[-2000:]


async def test_goodbye_makes_tom_send_bye(sip_server, speech, tmp_path):
    started = events_of(sip_server, ev.CallStarted)
    phone = Baresip(tmp_path / "caller", mic(speech, "Thanks, goodbye.", 7, 25))
    phone.dial(f"sip:tom@127.0.0.1:{sip_server.sip.port}", max_s=45)
    try:
        run = await phone.finish(60)
    finally:
        phone.kill()
    record = sip_server.assistant.registry.get(started[-1].call_id)
    assert record.outcome == "completed", record.transcript  # TOM ended the call
    assert "terminated" in run.log and "end of file" not in run.log.split("Call established")[-1]


async def test_dtmf_zero_refers_to_the_transfer_number(sip_server, speech, tmp_path):
    started = events_of(sip_server, ev.CallStarted)
    errors = events_of(sip_server, ev.CallError)
    phone = Baresip(tmp_path / "caller", mic(speech, "", 30, 0))
    phone.dial(f"sip:tom@127.0.0.1:{sip_server.sip.port}", max_s=40)
    try:
        assert await phone.wait_log("Call established", 20), phone.log()[-2000:]
        await asyncio.sleep(5)  # into the greeting
        phone.key("0")
        assert await phone.wait_log(r"transferring call \S+ to 'sip:\+497614589321@", 30), \
            phone.log()[-3000:]
        run = await phone.finish(45)
    finally:
        phone.kill()
    record = sip_server.assistant.registry.get(started[-1].call_id)
    assert record.outcome == "transferred"
    # nothing listens at the transfer target: the profile's fallback (hang up, say why) runs
    assert any(e.kind == "transfer_failed" for e in errors), errors
    assert "terminated" in run.log


async def test_a_callers_refer_is_refused_no_open_relay(sip_server, speech, tmp_path):
    victim = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # would see any INVITE TOM sent
    victim.bind(("127.0.0.1", 0))
    victim.settimeout(3)
    target = f"sip:victim@127.0.0.1:{victim.getsockname()[1]}"
    phone = Baresip(tmp_path / "caller", mic(speech, "", 20, 0))
    phone.dial(f"sip:tom@127.0.0.1:{sip_server.sip.port}", max_s=30)
    try:
        assert await phone.wait_log("Call established", 20), phone.log()[-2000:]
        phone.key(f"/transfer {target}\n")
        assert await phone.wait_log(r"transfer fail", 10), phone.log()[-2000:]
        with pytest.raises(TimeoutError):
            await asyncio.to_thread(victim.recv, 4096)
    finally:
        phone.kill()
        victim.close()


async def test_busy_line_answers_486(sip_server, speech, tmp_path):
    first = Baresip(tmp_path / "first", mic(speech, "", 12, 0))
    second = Baresip(tmp_path / "second", mic(speech, "", 3, 0))
    port = sip_server.sip.port
    first.dial(f"sip:tom@127.0.0.1:{port}", max_s=20)
    try:
        assert await first.wait_log("Call established", 20), first.log()[-2000:]
        # the line is taken: a balancer's probe hears 503 (pjsua alone would say 200)
        assert await options_answer(port, "SIP/2.0 503 Busy"), "OPTIONS not 503 while busy"
        second.dial(f"sip:tom@127.0.0.1:{sip_server.sip.port}", max_s=10)
        run = await second.finish(20)
        assert "486 Busy Here" in run.log, run.log[-2000:]
        assert "Call established" not in run.log
        first.key("q")  # the first caller hangs up (BYE): the line is free again
        await first.finish(10)
        assert await options_answer(port, "SIP/2.0 200 OK"), "OPTIONS not 200 once a line is free"
    finally:
        first.kill()
        second.kill()


async def options_answer(port: int, expected: str, within_s: float = 10) -> bool:
    """Probe with OPTIONS until the answer is `expected` (TOM's load is polled, not pushed)."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        if await asyncio.to_thread(exchange, port, sip_request("OPTIONS", port)) == expected:
            return True
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.3)


async def test_media_ports_are_reused_across_calls(sip_server):
    """Earlier calls in this module ran one at a time: their media ports came from one pool
    (PJSIP 2.15 frees a deleted port while its clock thread may still use it)."""
    ports = sip_server.sip.stack.ports
    assert 1 <= ports.made <= 2, ports.made
    # every ended call's pjsua2 objects were freed on the SIP thread, none kept alive elsewhere
    assert sip_server.sip.stack.unfreed_calls == 0


def sip_request(method: str, port: int, body: str = "", extra: str = "") -> bytes:
    branch = uuid.uuid4().hex
    local = "127.0.0.1"
    return (f"{method} sip:tom@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {local}:5099;branch=z9hG4bK{branch};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:probe@{local}>;tag={branch[:8]}\r\n"
            f"To: <sip:tom@127.0.0.1>\r\nCall-ID: {branch}@{local}\r\nCSeq: 1 {method}\r\n"
            f"Contact: <sip:probe@{local}:5099>\r\n{extra}"
            f"Content-Length: {len(body.encode())}\r\n\r\n{body}").encode()


def exchange(port: int, payload: bytes, timeout_s: float = 5) -> str:
    """Send one datagram and return the first final (non-1xx) answer's status line."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout_s)
        s.sendto(payload, ("127.0.0.1", port))
        while True:
            data = s.recv(65536).decode(errors="replace")
            status = data.split("\r\n", 1)[0]
            if not status.startswith("SIP/2.0 1"):
                return status


async def test_options_garbage_and_no_common_codec(sip_server):
    port = sip_server.sip.port
    assert await asyncio.to_thread(exchange, port, sip_request("OPTIONS", port)) == \
        "SIP/2.0 200 OK"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # garbage: never a crash
        for junk in (b"\x00\xff" * 200, b"INVITE\r\n\r\n", b"SIP/2.0 200\r\nVia: x\r\n\r\n"):
            s.sendto(junk, ("127.0.0.1", port))
    # codecs PJSIP has but TOM switched off (only PCMA and PCMU are offered to a call)
    no_g711 = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
               "m=audio 49170 RTP/AVP 9 3 111\r\na=rtpmap:9 G722/8000\r\n"
               "a=rtpmap:3 GSM/8000\r\na=rtpmap:111 opus/48000/2\r\n")
    answer = await asyncio.to_thread(
        exchange, port, sip_request("INVITE", port, no_g711,
                                    "Content-Type: application/sdp\r\n"))
    assert answer.startswith("SIP/2.0 488"), answer
    assert await asyncio.to_thread(exchange, port, sip_request("OPTIONS", port)) == \
        "SIP/2.0 200 OK"
