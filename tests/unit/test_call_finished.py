"""Which words read as a finished sentence (the tie-breaker when Smart Turn says unfinished)."""

from __future__ import annotations

import pytest

from tom.call.finished import Ends, doubts_end, judge_pause, reads_finished, reads_open
from tom.config import TurnsSettings
from tom.engine.stt import LastWord, Transcript


@pytest.mark.parametrize("text", [
    "Thank you very much. Goodbye.", "Yes, that's right.", "Great. Thanks. Bye.",
    "Do you also repair electric bikes?", "I would like to move my appointment to Thursday afternoon.",
    "Vielen Dank, auf Wiederhören!", "Ja, genau.", "Haben Sie am Samstag geöffnet?",
    "Thank you.", "Yes, I do.", "Can you fix it?", "What's it for?", "Ich rufe morgen an.",
    "Ja, das mache ich so.", "Great Thanks Bye", "Danke, auf Wiederhören", "Okay tschüss",
    "Who do I talk to?", "Okay. Where are you from?", "Sorry, who am I talking to?", "So what are you looking at?",
    "Was kostet das?", "Wie lange dauert das?",
])
def test_finished_sentences(text):
    assert reads_finished(text)


@pytest.mark.parametrize("text", [
    "", "I'd like to book a service for my.", "I'd like to book a service for my...",
    "I'd like to book a", "So the chain is rusty and", "Um.", "Ich möchte einen Termin für…",
    "Ich hätte gern einen Termin und.", "Ich möchte den.", "well -",
    "I'd like to talk to.", "Can I book a service for.", "Saturday", "Bye for",
    # Whisper's question mark on a caller cut off mid-way: no question word left them behind
    "Hi, are you open on?", "Is there a guarantee on?", "How much does it cost to?",
    "Sind Sie am?", "What do you need it for? I can come in.",
])
def test_cut_off_or_trailing_sentences(text):
    assert not reads_finished(text)


@pytest.mark.parametrize(("text", "open_"), [
    ("I'd like to book a", True), ("Ich möchte einen Termin für", True), ("I was going to…", True),
    ("Yes,", True), ("", True), ("My number is 0151 234 56789", False), ("Saturday", False),
    ("Where are you located?", False), ("What is it for?", False),
])
def test_words_that_plainly_go_on(text, open_):
    assert reads_open(text) is open_


@pytest.mark.parametrize(("complete", "text", "doubted", "ends"), [
    (True, "Where are you located?", False, Ends.NOW),
    (True, "", False, Ends.NOW),  # no words: the sound decides
    (False, "", False, Ends.LATER),
    (True, "I'd like to book a", False, Ends.LATER),
    (True, "My number is 0151 234 56789", False, Ends.SOONER),  # unpunctuated, not going on
    (False, "Thank you very much. Goodbye.", False, Ends.NOW),  # a farewell, whatever its sound
    (True, "I'd like to book a second.", True, Ends.LATER),  # Whisper ended it itself
    (False, "I'd like to book a second.", True, Ends.LATER),
    (True, "My number is 0151 234 56789", True, Ends.LATER),
    (False, "Thank you very much. Bye bye.", True, Ends.NOW),  # a farewell is believed
    (False, "Bye for", False, Ends.LATER),
    # a number read out in groups may go on, finished as each group sounds
    (True, "My number is 0151.", False, Ends.SOONER),
    (False, "My number is 0151-2345.", False, Ends.SOONER),
    (True, "Meine Nummer ist 0761 45893.", False, Ends.SOONER),
    (False, "My number is 0151 234", False, Ends.LATER),  # unfinished by sound and words
    (True, "Thursday at 2.", False, Ends.NOW),  # a time is no group of digits
    (True, "I have three bikes.", False, Ends.NOW),
])
def test_sound_and_words_judged_together(complete, text, doubted, ends):
    assert judge_pause(complete, text, doubted) is ends


def heard(prob: float = 1.0, start_s: float | None = None, more: float = 0.0,
          text: str = "I'd like to book a second.") -> Transcript:
    """Words of a 2 s audio (the last 0.25 s of it silence) whose last word is so placed, and
    after whose sentence end Whisper gave a next word `more`."""
    return Transcript(text, "en", 0.01, -0.2, 2.0,
                      last_word=LastWord(prob, start_s), more_words_prob=more)


@pytest.mark.parametrize(("words", "doubted"), [
    (heard(0.6, 1.3), False),  # said: it starts 0.45 s before the voice ends
    (heard(0.6), False),  # not placed: believed
    (heard(0.2, 1.3), True),  # unsure of it
    (heard(0.6, 1.7), True),  # starts 50 ms before the voice ends: no room to say it
    (heard(0.6, 1.9), True),  # in the silence
    (heard(0.98, 1.7), False),  # a short word said at the very end ("isn't it?"), sure of it
    (heard(0.98, 1.0, more=0.35), True),  # it expected a word where it ended the sentence
    (heard(0.98, 1.0, more=0.05), False),  # ... hardly
    (heard(0.98, 1.0, text="how long does it, how long does it, how"), True),  # a loop going on
])
def test_an_end_whisper_made_is_doubted(words, doubted):
    assert doubts_end(words, 0.25, TurnsSettings(sure_word_prob=0.3, added_word_ms=140,
                                                 more_words_prob=0.2)) is doubted


def test_against_an_unfinished_sound_a_last_word_must_be_surer():
    turns = TurnsSettings(sure_word_prob=0.3, sure_word_prob_unfinished=0.5)
    assert not doubts_end(heard(0.34, 1.0), 0.25, turns)  # the sound agrees: believed
    assert doubts_end(heard(0.34, 1.0), 0.25, turns, sound_finished=False)
    assert not doubts_end(heard(0.6, 1.0), 0.25, turns, sound_finished=False)
    off = TurnsSettings(sure_word_prob=0.3, sure_word_prob_unfinished=0.0)
    assert not doubts_end(heard(0.34, 1.0), 0.25, off, sound_finished=False)


def test_with_the_rules_off_every_end_is_believed():
    off = TurnsSettings(sure_word_prob=0.0, added_word_ms=0, more_words_prob=0.0)
    assert not doubts_end(heard(0.01, 1.9, more=0.9), 0.25, off)
