"""Smart Turn: features as Whisper computes them; a paused sentence stays one turn, a finished
one ends sooner than the silence rule would end it."""

import numpy as np
import pytest

from tom.config import Settings
from tom.engine import smart_turn as st
from tom.engine.vad import SileroStream, TurnDetector, load_silero
from tom.models import resolve_vad

SENTENCE = "I would like to book an appointment for next Tuesday morning please."


@pytest.fixture(scope="module")
def model():
    return st.SmartTurn(st.model_path())


@pytest.fixture(scope="module")
def session():
    return load_silero(str(resolve_vad(Settings()).path), 1)


def test_log_mel_matches_whisper_features(speech):
    from faster_whisper.feature_extractor import FeatureExtractor

    audio = speech("What time do you open on Saturday?")
    ref = FeatureExtractor(feature_size=80)(audio, padding=0)
    mine = st.log_mel(audio)
    assert mine.shape == ref.shape
    assert np.abs(mine - ref).max() < 1e-3


def test_features_have_the_models_shape():
    assert st.features(np.zeros(16000, np.float32)).shape == (1, 80, 800)
    assert st.features(np.ones(16000 * 20, np.float32) * 0.1).shape == (1, 80, 800)
    assert np.isfinite(st.features(np.zeros(0, np.float32))).all()


def test_a_sentence_broken_off_is_unfinished_a_whole_one_finished(model, speech):
    # A synthetic voice ends every phrase on a falling pitch, so a cut at a random point can
    # sound finished; words that cannot end a sentence ("because the") cannot.
    pause = np.zeros(2560, np.float32)
    broken = speech("I would like to book an appointment because the")
    assert model.complete(np.concatenate([broken, pause])) < 0.5
    assert model.complete(np.concatenate([speech(SENTENCE), pause])) > 0.5


def detect(session, model, audio, *, smart: bool, **vad):
    turns = []
    det: TurnDetector

    def judge(samples, token):
        det.verdict(token, model.complete(samples) >= 0.5)

    det = TurnDetector(SileroStream(session), Settings.from_dict({"vad": vad}).vad,
                       on_speech_start=lambda _: None, on_turn=turns.append,
                       on_judge=judge if smart else None, clock=lambda: t)
    t = 0
    for i in range(0, len(audio), 320):
        t += 20_000_000
        det.feed(audio[i:i + 320].astype(np.float32), end_ts_ns=t)
    return turns


def paused_sentence(speech, prefix: str, rest: str, pause_s: float) -> np.ndarray:
    """`prefix rest` spoken as one sentence with `pause_s` of silence after `prefix` (cut at
    the quietest 10 ms near where the prefix ends)."""
    audio = speech(f"{prefix} {rest}")
    first, second = len(speech(prefix)), len(speech(rest))
    near = len(audio) * first // (first + second) - 1600
    quiet = [np.abs(audio[near + i:near + i + 160]).mean() for i in range(0, 3200, 160)]
    cut = near + int(np.argmin(quiet)) * 160
    return np.concatenate([audio[:cut], np.zeros(int(pause_s * 16000)), audio[cut:]])


def test_a_pause_inside_a_sentence_does_not_end_the_turn(session, model, speech):
    said = paused_sentence(speech, "Can I book a repair for my bike because the",
                           "brakes are broken?", 0.7)
    paused = np.concatenate([np.zeros(8000), said, np.zeros(32000)]).astype(np.float32)
    assert len(detect(session, model, paused, smart=False)) == 2  # silence alone cuts it
    (turn,) = detect(session, model, paused, smart=True)
    assert len(turn.audio) >= len(said) - 11200


def test_a_finished_sentence_ends_sooner_than_the_silence_rule(session, model, speech):
    audio = np.concatenate([np.zeros(8000), speech("What time do you open on Saturday?"),
                            np.zeros(32000)]).astype(np.float32)
    (silence,) = detect(session, model, audio, smart=False)
    (smart,) = detect(session, model, audio, smart=True)
    assert smart.detected_ns - smart.speech_end_ns < silence.detected_ns - silence.speech_end_ns


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(st.SmartTurnUnavailable, match="does not exist"):
        st.model_path(str(tmp_path / "nope.onnx"))
