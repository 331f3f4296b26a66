"""Who may send TOM an INVITE, and where a transfer goes: small pure checks of the SIP agent."""

from __future__ import annotations

import ipaddress
import re

_NUMBER = re.compile(r"^\+?[0-9*#]{1,32}$")


class Sources:
    """Allowed source networks for INVITEs; none configured means any source."""

    def __init__(self, networks: list[str]) -> None:
        self._nets = [ipaddress.ip_network(n, strict=False) for n in networks]

    def allowed(self, address: str) -> bool:
        if not self._nets:
            return True
        try:
            ip = ipaddress.ip_address(host_of(address))
        except ValueError:
            return False
        return any(ip in net for net in self._nets)


def host_of(address: str) -> str:
    """ "192.0.2.1:5060" → "192.0.2.1"; "[2001:db8::1]:5060" → "2001:db8::1"."""
    if address.startswith("["):
        return address[1:address.find("]")] if "]" in address else address
    if address.count(":") == 1:
        return address.split(":", 1)[0]
    return address


def transfer_uri(number: str, domain: str) -> str:
    """The REFER target for the profile's transfer number: a SIP URI as it is, a phone number
    (spaces, dashes and brackets dropped) at `domain`. Raises ValueError for anything else, so
    a caller can never steer a transfer to a URI of their choosing."""
    number = number.strip()
    if number.startswith(("sip:", "sips:")):
        if any(c in number for c in " \r\n<>\""):
            raise ValueError(f"transfer number {number!r} is not a plain SIP URI")
        return number
    digits = re.sub(r"[\s\-()/.]", "", number)
    if not _NUMBER.match(digits):
        raise ValueError(f"transfer number {number!r} is neither a phone number nor a SIP URI")
    if not domain:
        raise ValueError("a phone-number transfer needs sip.transfer_domain or sip.registrar")
    return f"sip:{digits}@{domain}"


def registrar_host(registrar: str) -> str:
    """ "sip:pbx.example.com:5070;transport=tcp" → "pbx.example.com:5070"."""
    rest = registrar.split(":", 1)[1] if registrar.startswith(("sip:", "sips:")) else registrar
    return rest.split(";", 1)[0].split("@")[-1]
