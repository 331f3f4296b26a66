"""The one error every wire parser raises, so the shared bridge code can catch it once."""

from __future__ import annotations


class ProtocolError(ValueError):
    """The peer sent something TOM cannot accept; the text says what, for a person to act on."""
