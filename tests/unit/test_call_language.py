"""A call on a German+English TOM follows the caller's language: profile, voice, reading."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pytest
from call_harness import IN_RATE, OUT_RATE, FakeEars, FakeMouth, Harness, profile

from tom.call import Call
from tom.call.engines import SpokenLanguage
from tom.conversation.profile import load_profile
from tom.engine.stt import Transcript
from tom.engine.workers import Timed
from tom.monitor import events as ev
from tom.registry import CallRecord

DE_HOURS, EN_HOURS, FRENCH = 0.25, 0.5, 0.75  # exact in float32
UTTERANCES = {DE_HOURS: ("Wann haben Sie am Samstag geöffnet?", "de"),
              EN_HOURS: ("What are your opening hours?", "en"),
              FRENCH: ("Bonjour, je voudrais parler de mon vélo.", "fr")}


@dataclass
class LanguageEars(FakeEars):
    """The fake STT, also naming the language of each utterance and noting the call's so far."""

    currents: list[str | None] = field(default_factory=list)

    async def transcribe(self, samples: np.ndarray,  # type: ignore[override]
                         current: str | None = None) -> Timed[Transcript]:
        self.currents.append(current)
        timed = await super().transcribe(samples)
        language = next((code for text, code in UTTERANCES.values()
                         if text == timed.value.text), "en")
        value = dataclasses.replace(timed.value, language=language, language_prob=0.97)
        return Timed(value, timed.submitted_ns, timed.started_ns, timed.done_ns)


@pytest.fixture
async def bilingual():
    h = Harness(words={level: text for level, (text, _) in UTTERANCES.items()}, greeting="x")
    german, english = load_profile(None, "de"), profile()
    h.de_mouth, h.en_mouth = FakeMouth(h.clock), h.mouth
    h.ears = LanguageEars(h.clock, h.ears.words)
    h.engines = dataclasses.replace(
        h.engines, profile=german, transcribe=h.ears.transcribe,
        synthesize=h.de_mouth.synthesize,
        languages={"de": SpokenLanguage("de", german, h.de_mouth.synthesize),
                   "en": SpokenLanguage("en", english, h.en_mouth.synthesize)})
    h.call = Call(h.engines, CallRecord("c1", "test", "+4930123", started_ns=h.clock.now),
                  in_rate=IN_RATE, out_rate=OUT_RATE, strict_flow=True)
    await h.start()
    await h.clock.advance(5)  # the greeting, in German
    yield h
    await h.stop()
    assert not h.of(ev.CallError), h.of(ev.CallError)


async def _turn(h: Harness, level: float) -> None:
    await h.say(level, 1.0)
    await h.silence(0.6)
    await h.clock.advance(5)


async def test_greeting_in_the_first_language_then_the_callers(bilingual):
    h = bilingual
    assert h.said()[0].startswith("Guten Tag") and h.en_mouth.said == []
    await _turn(h, EN_HOURS)
    assert h.ears.currents == [None]  # before the caller's first words: no language yet
    assert "Saturday" in h.said()[-1]
    assert any("Saturday" in s for s in h.en_mouth.said)  # the English voice spoke it
    assert not any("Saturday" in s for s in h.de_mouth.said)


async def test_a_switch_mid_call_is_followed(bilingual):
    h = bilingual
    await _turn(h, EN_HOURS)
    await _turn(h, DE_HOURS)
    assert h.ears.currents == [None, "en"]
    assert "Samstag" in h.said()[-1], (h.said(), h.said(ev.Role.CALLER))
    # German is read for the voice: "10 bis 14 Uhr" reaches Pico as words
    assert any("zehn bis vierzehn Uhr" in s for s in h.de_mouth.said), h.de_mouth.said


async def test_a_language_tom_does_not_speak_gets_a_polite_offer_in_each(bilingual):
    h = bilingual
    await _turn(h, FRENCH)
    assert any("ich spreche nur Deutsch und Englisch" in s for s in h.de_mouth.said)
    assert any("I can only speak German and English" in s for s in h.en_mouth.said)
    heard = h.said()[-1]
    assert "Nachricht aufnehmen" in heard and "take a message" in heard
    assert h.call.responder.dialogue._offer == "message"  # a "yes" starts taking a message
