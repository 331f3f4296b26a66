"""SIP guards on a real agent: INVITEs from outside `sip.allowed_sources` get 403, a source over
`sip.invites_per_min` gets 503 with Retry-After; the agent goes on answering."""

from __future__ import annotations

import asyncio
import socket
import uuid

import pytest
from tomtest import e2e_settings, running_server

pytestmark = pytest.mark.e2e

PCMU = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        "m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


def invite(port: int) -> bytes:
    branch = uuid.uuid4().hex
    return (f"INVITE sip:tom@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK{branch};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag={branch[:8]}\r\n"
            f"To: <sip:tom@127.0.0.1>\r\nCall-ID: {branch}@probe\r\nCSeq: 1 INVITE\r\n"
            f"Contact: <sip:probe@127.0.0.1:5099>\r\nContent-Type: application/sdp\r\n"
            f"Content-Length: {len(PCMU)}\r\n\r\n{PCMU}").encode()


def final_answer(port: int) -> str:
    """The first non-1xx answer to one INVITE: its status line and Retry-After, if any."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(invite(port), ("127.0.0.1", port))
        while True:
            lines = s.recv(65536).decode(errors="replace").split("\r\n")
            if not lines[0].startswith("SIP/2.0 1"):
                retry = [line for line in lines if line.lower().startswith("retry-after:")]
                return " | ".join([lines[0], *retry])


async def test_invite_from_outside_the_allowed_networks_is_refused(tmp_path):
    settings = e2e_settings(tmp_path, sip={"enabled": True, "port": 0,
                                           "allowed_sources": ["192.0.2.0/24"]})
    async with running_server(settings) as srv:
        answer = await asyncio.to_thread(final_answer, srv.sip.port)
        assert answer.startswith("SIP/2.0 403"), answer
        assert not srv.assistant.registry.listing()["recent"]


async def test_an_invite_flood_is_cut_off_per_source(tmp_path):
    settings = e2e_settings(tmp_path, server={"max_calls": 4},
                            sip={"enabled": True, "port": 0, "invites_per_min": 2})
    async with running_server(settings) as srv:
        answers = [await asyncio.to_thread(final_answer, srv.sip.port) for _ in range(3)]
        assert [a.split(" | ")[0] for a in answers[:2]] == ["SIP/2.0 200 OK"] * 2, answers
        assert answers[2].startswith("SIP/2.0 503") and "Retry-After: 60" in answers[2], answers
