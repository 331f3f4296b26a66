"""Who may call over SIP, where a transfer may go, and the [sip] settings."""

from __future__ import annotations

import pytest

from tom.config import ConfigError, Settings
from tom.telephony.sip.agent import retry_delay
from tom.telephony.sip.sources import Sources, host_of, registrar_host, transfer_uri


def test_allowed_sources():
    anyone = Sources([])
    assert anyone.allowed("203.0.113.9:5060")
    trunk = Sources(["192.0.2.0/24", "2001:db8::/32"])
    assert trunk.allowed("192.0.2.17:5060")
    assert trunk.allowed("[2001:db8::5]:5060")
    assert not trunk.allowed("198.51.100.1:5060")
    assert not trunk.allowed("not-an-address")


def test_host_of():
    assert host_of("192.0.2.1:5060") == "192.0.2.1"
    assert host_of("[2001:db8::1]:5060") == "2001:db8::1"
    assert host_of("2001:db8::1") == "2001:db8::1"


def test_transfer_uri_only_from_the_configured_number():
    assert transfer_uri("+49 761 458-93 21", "pbx.example") == "sip:+497614589321@pbx.example"
    assert transfer_uri("sip:desk@pbx.example", "") == "sip:desk@pbx.example"
    with pytest.raises(ValueError, match="sip.transfer_domain"):
        transfer_uri("+49 761 4589321", "")
    for bad in ("call me maybe", "sip:a@b>;x=<c", "123; evil=1"):
        with pytest.raises(ValueError):
            transfer_uri(bad, "pbx.example")


def test_registrar_host():
    assert registrar_host("sip:pbx.example.com:5070;transport=tcp") == "pbx.example.com:5070"
    assert registrar_host("sip:tom@192.0.2.5") == "192.0.2.5"
    assert registrar_host("pbx.example.com") == "pbx.example.com"


def test_register_retry_backs_off_up_to_sixteen_times():
    assert [retry_delay(30, n) for n in (1, 2, 3, 4, 5, 9)] == [30, 60, 120, 240, 480, 480]


def test_sip_settings_off_by_default_secret_from_env():
    s = Settings.load(env={})
    assert s.sip.enabled is False
    s = Settings.load(env={"TOM_SIP_ENABLED": "true", "TOM_SIP_PASSWORD": "pw",
                           "TOM_SIP_ALLOWED_SOURCES": "192.0.2.0/24, 10.0.0.5"})
    assert (s.sip.enabled, s.sip.password) == (True, "pw")
    assert s.sip.allowed_sources == ["192.0.2.0/24", "10.0.0.5"]
    with pytest.raises(ConfigError, match="sip.busy"):
        Settings.load(env={}, overrides={"sip": {"busy": "404"}})
    with pytest.raises(ConfigError, match="sip.allowed_sources"):
        Settings.load(env={}, overrides={"sip": {"allowed_sources": ["not a net"]}})
