"""TOM as an extension behind Kamailio: REGISTER with digest auth, calls through the proxy,
re-registration after the registrar restarts, and a wrong password reported, not crashed on."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from sip_peers import Baresip, Kamailio, need
from tomtest import e2e_settings, running_server

from tom.audio import float_to_pcm16
from tom.monitor import events as ev

pytestmark = pytest.mark.e2e
PASSWORD = "kam-test-secret"


def silence(seconds: float) -> bytes:
    return float_to_pcm16(np.zeros(int(8000 * seconds)))


async def until(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return predicate()


async def call_through(kam: Kamailio, workdir, user: str = "tom") -> str:
    phone = Baresip(workdir, silence(4))
    phone.dial(f"sip:{user}@127.0.0.1:{kam.port}", max_s=20)
    try:
        return (await phone.finish(30)).log
    finally:
        phone.kill()


async def test_registers_and_answers_through_kamailio(tmp_path):
    need("baresip")
    kam = Kamailio(tmp_path / "kam", PASSWORD)
    await kam.start()
    settings = e2e_settings(tmp_path, sip={
        "enabled": True, "port": 0, "registrar": f"sip:127.0.0.1:{kam.port}",
        "password": PASSWORD, "register_expires_s": 30, "register_retry_s": 5})
    try:
        async with running_server(settings) as srv:
            started: list[ev.CallStarted] = []
            srv.bus.listen(lambda e: started.append(e) if isinstance(e, ev.CallStarted) else None)
            assert await until(lambda: srv.sip.registered is True, 10), srv.sip.registration_status
            log = await call_through(kam, tmp_path / "call1")
            assert "Call established" in log, log[-2000:]
            assert [e.transport for e in started] == ["sip"]
            # the registrar restarts and forgets TOM; TOM's next refresh registers it again
            await kam.stop()
            restarted = time.monotonic()
            await kam.start()
            assert await until(lambda: srv.sip.registered_at > restarted, 40), \
                srv.sip.registration_status
            log = await call_through(kam, tmp_path / "call2")
            assert "Call established" in log, log[-2000:]
            assert len(started) == 2
    finally:
        await kam.stop()


async def test_wrong_password_is_reported_and_retried(tmp_path):
    kam = Kamailio(tmp_path / "kam", PASSWORD)
    await kam.start()
    settings = e2e_settings(tmp_path, sip={
        "enabled": True, "port": 0, "registrar": f"sip:127.0.0.1:{kam.port}",
        "password": "wrong", "register_retry_s": 5})
    try:
        async with running_server(settings) as srv:
            errors: list[ev.CallError] = []
            srv.bus.listen(lambda e: errors.append(e) if isinstance(e, ev.CallError) else None)
            assert await until(lambda: srv.sip.registered is False, 10)
            assert any(e.kind == "sip_registration" for e in errors), errors
            assert "401" in srv.sip.registration_status or "403" in srv.sip.registration_status
            await asyncio.sleep(7)  # a retry after register_retry_s: still refused, still up
            assert sum(e.kind == "sip_registration" for e in errors) >= 2, errors
    finally:
        await kam.stop()


async def test_a_taken_sip_port_is_a_clear_start_error(tmp_path):
    import socket

    from tom.server import ServerStartError
    from tom.telephony.sip.stack import free_port

    port = free_port("127.0.0.1")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", port))
        settings = e2e_settings(tmp_path, sip={"enabled": True, "port": port})
        with pytest.raises(ServerStartError, match=f"cannot start SIP on 127.0.0.1:{port}: "
                                                   r".*in use.*sip.port"):
            async with running_server(settings):
                pass
    again = tmp_path / "again"
    again.mkdir()
    async with running_server(e2e_settings(again, sip={"enabled": True, "port": port})) as srv:
        assert srv.sip.port == port  # nothing was left behind by the failed start
        second = tmp_path / "second"
        second.mkdir()
        with pytest.raises(ServerStartError, match="one per process"):
            async with running_server(e2e_settings(second, sip={"enabled": True, "port": 0})):
                pass
