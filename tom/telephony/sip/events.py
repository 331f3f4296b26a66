"""What the SIP thread tells the loop about one call (typed, so the receive loop can match)."""

from __future__ import annotations

from dataclasses import dataclass

KEYPAD = frozenset("0123456789*#ABCD")


@dataclass(frozen=True)
class Dtmf:
    digit: str


def keypad_digit(raw: str) -> str | None:
    """The key a DTMF event names, or None when it names none: PJSIP passes a SIP INFO's
    `Signal=` through unchecked (measured: "Z", "<", even "\\r" for an empty one)."""
    digit = raw.strip().upper()
    return digit if len(digit) == 1 and digit in KEYPAD else None


@dataclass(frozen=True)
class Disconnected:
    """The dialog is over (BYE, CANCEL, a failed answer); `code` is the last SIP status."""

    code: int
    reason: str


@dataclass(frozen=True)
class TransferStatus:
    """A NOTIFY (or the REFER's own answer) about a blind transfer TOM asked for."""

    code: int
    reason: str
    final: bool


CallEvent = Dtmf | Disconnected | TransferStatus
