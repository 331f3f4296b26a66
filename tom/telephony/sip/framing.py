"""What PJSIP 2.15 hands over from the wire unchecked, checked: the framing of a datagram and
text that is not UTF-8.

RFC 3261 §18.3: a request whose datagram ends before the body its Content-Length announces is
an error and is answered 400. PJSIP does not check this (measured: an INVITE with its SDP's
last line cut off, or with Content-Length raised by 100, was answered 200 and became a call),
so TOM checks the INVITE it is handed before taking the call.

SIP text is UTF-8, but older PBXs send display names in Latin-1 ("M\xfcller"); pjsua2 hands
such bytes over as lone surrogates, which would travel into events, logs and the dashboard.
"""

from __future__ import annotations

LENGTH_HEADERS = ("content-length", "l")  # the full and the compact name


def body_cut_short(message: str) -> bool:
    """True when `message` (one whole SIP message as received) has fewer body bytes than its
    Content-Length says; a message without the header, or with an unreadable one, is not."""
    head, sep, body = message.partition("\r\n\r\n")
    if not sep:
        return False
    for line in head.split("\r\n")[1:]:
        name, colon, value = line.partition(":")
        if colon and name.strip().lower() in LENGTH_HEADERS:
            try:
                announced = int(value.strip())
            except ValueError:
                return False
            return announced > len(body.encode("utf-8", "surrogateescape"))
    return False


def wire_text(value: str) -> str:
    """A string from pjsua2 as text: its bytes read as UTF-8, or as Latin-1 when they are not
    (pjsua2 turns bytes that are not UTF-8 into lone surrogates)."""
    raw = value.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
