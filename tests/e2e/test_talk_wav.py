"""`tom talk --wav`: the real CLI, the real models, caller audio made with piper."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tom.audio import read_wav, write_wav
from tom.bench.wer import wer
from tom.conversation.profile import load_profile

pytestmark = pytest.mark.e2e
RATE = 16000


def silence(s: float) -> np.ndarray:
    return np.zeros(int(RATE * s), dtype=np.float32)


def talk(tmp_path, audio: np.ndarray) -> tuple[list[dict], np.ndarray]:
    wav_in, wav_out = tmp_path / "in.wav", tmp_path / "out.wav"
    write_wav(wav_in, audio, RATE)
    proc = subprocess.run(
        [sys.executable, "-m", "tom.cli", "--log-format", "json", "talk", "--wav", str(wav_in),
         "--out", str(wav_out), "--json"],
        capture_output=True, text=True, encoding="utf-8", timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    turns = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    out, rate = read_wav(wav_out)
    assert rate == 8000
    assert abs(len(out) / rate - len(audio) / RATE) < 12  # time-aligned with the input
    return turns, out


def test_question_is_transcribed_and_answered(tmp_path, speech):
    question = "What time do you open on Saturday?"
    audio = np.concatenate([silence(5.0), speech(question), silence(7.0),
                            speech("Thank you, goodbye."), silence(1.0)])
    turns, out = talk(tmp_path, audio)
    caller_turns = [t for t in turns if t["user"]]
    assert caller_turns, turns
    assert wer(question, caller_turns[0]["user"]) <= 0.10, caller_turns[0]["user"]
    assert caller_turns[0]["assistant"].strip()
    timings = caller_turns[0]["timings_ms"]
    assert {"vad_wait", "stt", "tts_first_audio", "e2e"} <= set(timings)
    # TOM's reply is audible in OUT after the question ended
    question_end = (5.0 + len(speech(question)) / RATE) * 8000
    reply = out[int(question_end): int(question_end + 8000 * 4)]
    assert np.sqrt(np.mean(reply ** 2)) > 0.01


def test_barge_in_cuts_the_greeting_and_the_history(tmp_path, speech):
    greeting = load_profile(None).greeting
    audio = np.concatenate([silence(1.2), speech("Hello, sorry, I have a quick question."),
                            silence(6.0)])
    turns, out = talk(tmp_path, audio)
    first = turns[0]
    assert first["turn"] == 0 and first["interrupted"] is True
    heard = first["assistant"].split()
    assert 0 < len(heard) < len(greeting.split())
    assert greeting.split()[: len(heard)] == heard
