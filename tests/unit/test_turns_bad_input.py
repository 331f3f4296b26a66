"""Bad line audio through VAD, echo guard and Smart Turn: no phantom turns, no crash."""

import numpy as np
import pytest

from tom.config import Settings
from tom.engine import smart_turn as st
from tom.engine.echo import EchoGuard
from tom.engine.vad import SileroStream, TurnDetector, load_silero
from tom.models import resolve_vad

RATE = 16000


@pytest.fixture(scope="module")
def session():
    return load_silero(str(resolve_vad(Settings()).path), 1)


@pytest.fixture(scope="module")
def model():
    return st.SmartTurn(st.model_path())


def line(kind: str, seconds: float) -> np.ndarray:
    rng = np.random.default_rng(5)
    n = int(seconds * RATE)
    if kind == "silence":
        return np.zeros(n, np.float32)
    if kind == "dc":
        return np.full(n, 0.4, np.float32)
    if kind == "clipped-hum":
        return np.clip(3 * np.sin(2 * np.pi * 50 * np.arange(n) / RATE), -1, 1).astype(np.float32)
    if kind == "steady-noise":
        return rng.normal(0, 0.05, n).astype(np.float32)
    return rng.integers(-32768, 32767, n).astype(np.float32) / 32768  # garbage bytes


@pytest.mark.parametrize("kind", ["silence", "dc", "clipped-hum", "steady-noise", "garbage"])
def test_no_phantom_turns(session, model, kind):
    turns = []
    det: TurnDetector

    def judge(samples, token):
        det.verdict(token, model.complete(samples) >= 0.5)

    det = TurnDetector(SileroStream(session), Settings().vad, on_speech_start=lambda _: None,
                       on_turn=turns.append, on_judge=judge)
    echo = EchoGuard(Settings().echo, in_rate=RATE, out_rate=8000)
    audio = line(kind, 60.0)
    t = 10**12
    for i in range(0, len(audio), 320):
        t += 20_000_000
        chunk = audio[i:i + 320]
        det.feed(chunk, t, echo.clean(chunk, t))
    assert turns == []
