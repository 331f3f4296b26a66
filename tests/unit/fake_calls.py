"""Calls against the bench's fake TOM (tom/bench/fake_tom.py, the `fake` fixture in conftest.py):
short timeouts and tone turns."""

from __future__ import annotations

import numpy as np

from tom.audio import float_to_pcm16
from tom.bench.caller import CallerTurn, Timeouts

FAST = Timeouts(greeting_s=3, answer_s=2, reply_quiet_ms=300, barge_in_s=2)


def tone_turn(seconds: float = 0.5, **kw) -> CallerTurn:
    """A caller turn of a 220 Hz tone with 100 ms of silence either side."""
    t = np.arange(int(seconds * 8000)) / 8000
    audio = np.concatenate([np.zeros(800), 0.3 * np.sin(2 * np.pi * 220 * t), np.zeros(800)])
    kw.setdefault("pause_ms", 100)
    return CallerTurn(audio=float_to_pcm16(audio), **kw)

