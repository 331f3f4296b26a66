"""What the SIP thread tells the loop about one call (typed, so the receive loop can match)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dtmf:
    digit: str


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
