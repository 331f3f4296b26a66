"""The errors every wire parser and bridge raises, so the shared bridge code can catch them once.

Each carries the error kind it is counted under (`tom_errors{kind=...}`), so a failure a peer can
cause is a named kind, never `internal`.
"""

from __future__ import annotations


class ProtocolError(ValueError):
    """The peer sent something TOM cannot accept; the text says what, for a person to act on."""

    kind = "protocol"


class Overload(ProtocolError):
    """The peer sends caller audio faster than real time, beyond the allowance."""

    kind = "overload"


class DuplicateCall(ProtocolError):
    """A second connection claims the id of a call that is still live."""

    kind = "duplicate_call"


class StartTimeout(ProtocolError):
    """A connection never said which call it is (no Twilio `start`, no AudioSocket UUID)."""

    kind = "start_timeout"


class TooManyPending(ProtocolError):
    """Too many connections (from one source, or in all) have not yet started a call."""

    kind = "too_many_pending"


PEER_GONE = "peer_gone"  # the caller hung up while TOM was still talking (e.g. the busy message)
