"""Recorded callers: which prompts are used, how calls are made of them, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from tom.audio import write_wav
from tom.bench.corpus import CorpusError
from tom.bench.recordings import RecordedVoice, find_recordings, recorded_corpus, spoken
from tom.bench.synth import LineOptions

TEXTS = """; Core sounds
activated: Activated.
agent-pass: Please enter your password followed by the pound key.
beep: [this is a simple beep tone]
no-file: This prompt has no recording at all here.
menu: One two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty twenty-one twenty-two twenty-three twenty-four twenty-five twenty-six twenty-seven twenty-eight twenty-nine thirty thirty-one.
dictate/enter_filename: Please enter the name of the file.
vm-reachoper: press 0 to reach an operator now please
"""


@pytest.fixture
def prompts(tmp_path):
    (tmp_path / "dictate").mkdir()
    for name in ("activated", "agent-pass", "beep", "menu", "dictate/enter_filename",
                 "vm-reachoper"):
        tone = 0.3 * np.sin(np.arange(8000) * 2 * np.pi * 440 / 8000).astype(np.float32)
        write_wav(tmp_path / f"{name}.wav", tone, 8000)
    (tmp_path / "core-sounds-en.txt").write_text(TEXTS, encoding="utf-8")
    return tmp_path


def test_only_spoken_prompts_of_five_to_thirty_words_with_a_file(prompts):
    found = find_recordings(prompts)
    assert [r.name for r in found] == ["agent-pass", "dictate/enter_filename", "vm-reachoper"]
    assert found[0].words == 9


def test_calls_take_three_prompts_each_cycling_when_short(prompts):
    corpus = recorded_corpus(find_recordings(prompts), calls=2)
    assert [c.id for c in corpus.calls] == ["recorded-1", "recorded-2"]
    assert all(len(c.turns) == 3 and c.language == "en" for c in corpus.calls)
    assert {t.intent for c in corpus.calls for t in c.turns} == {""}  # no intent is scored


def test_a_prompt_is_said_by_its_recording_on_the_line(prompts):
    voice = RecordedVoice(find_recordings(prompts))
    spoken = voice.say("Please enter your password followed by the pound key.",
                       options=LineOptions(phone_path=False, lead_ms=100, tail_ms=100))
    assert spoken.rate == 8000 and spoken.speech_start == 800
    assert spoken.speech_end - spoken.speech_start == pytest.approx(8000, abs=200)
    with pytest.raises(CorpusError, match="no recording says"):
        voice.say("Something never recorded.")


def test_missing_package_names_what_to_install(tmp_path):
    with pytest.raises(CorpusError, match="asterisk-core-sounds-en-wav"):
        find_recordings(tmp_path / "nowhere")
    with pytest.raises(CorpusError, match="core-sounds-en.txt"):
        find_recordings(tmp_path)



def test_a_prompt_asking_for_an_operator_may_end_the_call(prompts):
    """TOM transfers a caller who says "press 0 to reach an operator": no failed call."""
    corpus = recorded_corpus(find_recordings(prompts), calls=1)
    ends = {t.id: t.may_end_call for c in corpus.calls for t in c.turns}
    assert ends == {"rec-agent-pass": False, "rec-dictate/enter_filename": False,
                    "rec-vm-reachoper": True}


def test_the_reference_is_what_the_speaker_says():
    assert spoken("Please leave your message after the tone. (simple tone sound plays)") == (
        "Please leave your message after the tone.")
    assert spoken("press * to toggle pause, press # to enter a name") == (
        "press star to toggle pause, press pound to enter a name")
