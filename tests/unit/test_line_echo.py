"""The bench line's echo: TOM's voice comes back as the far end played it, later and quieter."""

import numpy as np
import pytest

from tom.audio import ulaw_decode
from tom.bench.line import FRAME_SAMPLES, SILENCE, FarEnd, LineEcho

T0 = 10**12


def tone(amplitude: int) -> bytes:
    return np.full(FRAME_SAMPLES, amplitude, dtype="<i2").tobytes()


def level(ulaw: bytes) -> float:
    return float(np.abs(np.frombuffer(ulaw_decode(ulaw), dtype="<i2")).mean())


def test_parse_and_print():
    echo = LineEcho.parse("echo:-25dB@120ms")
    assert echo == LineEcho(25.0, 120) and str(echo) == "echo:-25dB@120ms"
    assert LineEcho.parse("-30db@20ms") == LineEcho(30.0, 20)
    for bad in ("echo:loud", "echo:-20dB", "echo:-20dB@-5ms", "echo:-20dB@9000ms"):
        with pytest.raises(ValueError, match="echo"):
            LineEcho.parse(bad)


def test_echo_comes_back_delayed_and_attenuated():
    far = FarEnd(LineEcho(20.0, 100))
    far.play(tone(10000), T0)  # plays T0 .. T0+20 ms
    assert far.mix(SILENCE, T0 + 20_000_000) == SILENCE  # not yet: 100 ms late
    back = far.mix(SILENCE, T0 + 120_000_000)
    assert 900 < level(back) < 1100  # 20 dB below 10000


def test_clear_drops_audio_not_yet_played():
    far = FarEnd(LineEcho(20.0, 100))
    for k in range(10):  # 200 ms buffered ahead
        far.play(tone(10000), T0 + k * 20_000_000)
    far.clear(T0 + 40_000_000)
    assert level(far.mix(SILENCE, T0 + 140_000_000)) > 500  # played before the clear
    assert far.mix(SILENCE, T0 + 200_000_000) == SILENCE  # dropped by the clear
