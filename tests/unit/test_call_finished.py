"""Which words read as a finished sentence (the tie-breaker when Smart Turn says unfinished)."""

from __future__ import annotations

import pytest

from tom.call.finished import Ends, judge_pause, reads_finished, reads_open


@pytest.mark.parametrize("text", [
    "Thank you very much. Goodbye.", "Yes, that's right.", "Great. Thanks. Bye.",
    "Do you also repair electric bikes?", "I would like to move my appointment to Thursday afternoon.",
    "Vielen Dank, auf Wiederhören!", "Ja, genau.", "Haben Sie am Samstag geöffnet?",
    "Thank you.", "Yes, I do.", "Can you fix it?", "What's it for?", "Ich rufe morgen an.",
    "Ja, das mache ich so.", "Great Thanks Bye", "Danke, auf Wiederhören", "Okay tschüss",
    "Who do I talk to?", "Okay. Where are you from?", "So what are you looking at?",
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


@pytest.mark.parametrize(("complete", "text", "last_word_prob", "ends"), [
    (True, "Where are you located?", 0.9, Ends.NOW),
    (True, "", 1.0, Ends.NOW),  # no words: the sound decides
    (False, "", 1.0, Ends.LATER),
    (True, "I'd like to book a", 0.9, Ends.LATER),
    (True, "My number is 0151 234 56789", 0.9, Ends.SOONER),  # unpunctuated, not going on
    (False, "Thank you very much. Goodbye.", 0.9, Ends.SOONER),
    (True, "I'd like to book a second.", 0.2, Ends.LATER),  # Whisper ended it, unsure
    (False, "I'd like to book a second.", 0.2, Ends.LATER),
    (True, "My number is 0151 234 56789", 0.2, Ends.LATER),
    (False, "Thank you very much. Bye bye.", 0.2, Ends.SOONER),  # a farewell is believed
])
def test_sound_and_words_judged_together(complete, text, last_word_prob, ends):
    assert judge_pause(complete, text, last_word_prob, sure_word_prob=0.3) is ends


def test_without_a_bar_every_last_word_is_believed():
    assert judge_pause(True, "I'd like to book a second.", 0.01) is Ends.NOW
