"""Backchannels: what a listener says to show they are listening, not to take the turn."""

from __future__ import annotations

import re
from collections.abc import Iterable


def is_backchannel(text: str, phrases: Iterable[str]) -> bool:
    """True when `text` is nothing but backchannel phrases ("Mhm.", "Okay, okay.", "Yeah right"),
    or no words at all (a cough, a breath): TOM may go on talking over it."""
    words = re.sub(r"[^\w\s']", " ", text.lower()).split()
    known = sorted((p.lower().split() for p in phrases if p.strip()), key=len, reverse=True)
    i = 0
    while i < len(words):
        for phrase in known:
            if words[i:i + len(phrase)] == phrase:
                i += len(phrase)
                break
        else:
            return False
    return True
