"""Backchannels: what a listener says to show they are listening, not to take the turn.

A short sound while TOM talks is judged by its words. Backchannel phrases let TOM go on; so
do words that ask nothing of TOM: Whisper writes a hum it cannot spell as the nearest word
("Mama.", "I have.", "A house."), and a person who hears a short murmur while they speak
goes on too. Words that claim the turn stop TOM: a request, a question, or a word that asks
the speaker to stop or listen ("Wait.", "No.", "Sorry?").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from tom.conversation.intents import classify

# Words that claim the turn: "stop", "wait", "no", "sorry?", "hello?" … The German ones only
# where the caller may speak German: tiny.en writes an English caller's hum as "moment" now
# and then, and "was" is an English word. German callers say "Stop", "Sorry" and "Hallo" too.
_CLAIMS_EN = (r"wait|stop|hold on|hang on|one (sec|second|moment)|just a (sec|second|moment)|"
              r"excuse me|sorry|pardon|no|nope|nah|not|wrong|hello|hey|listen|actually|but|"
              r"however|what")
_CLAIMS_DE = (r"warte|wartet|warten sie|halt|stopp|moment|sekunde|entschuldigung|"
              r"entschuldigen sie|verzeihung|nein|nee|nicht|falsch|hallo|aber|doch|wie bitte|was")
_CLAIMS = {"en": re.compile(rf"\b({_CLAIMS_EN})\b"),
           None: re.compile(rf"\b({_CLAIMS_EN}|{_CLAIMS_DE})\b")}
# A sentence that opens so takes back what the caller said before it ("Sorry, I only need …").
_TAKES_BACK = re.compile(
    r"^(sorry|no|nope|actually|i mean|wait|excuse me|pardon|rather|"
    r"entschuldigung|entschuldigen sie|verzeihung|nein|nee|eigentlich|ich meine|moment|halt)\b")
# Intents that always claim the turn (classify: "unclear", "empty" and "smalltalk" do not).
_REQUESTS = frozenset({"question", "booking", "human", "message", "goodbye"})


def is_backchannel(text: str, phrases: Iterable[str]) -> bool:
    """True when `text` is nothing but backchannel phrases ("Mhm.", "Okay, okay.", "Yeah right"),
    or no words at all (a cough, a breath): TOM may go on talking over it."""
    words = _words(text)
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


def claims_turn(text: str, language: str | None = None) -> bool:
    """True when a short utterance heard while TOM talks asks something of TOM (a request, a
    question, "wait", "no", "sorry?"): TOM stops and answers. False for words that ask
    nothing ("Mama.", "A house."): most likely a misheard backchannel, and TOM goes on.
    `language`: the call's ("en": English words only); None or another: every list."""
    claims = _CLAIMS.get(language, _CLAIMS[None])
    return bool(claims.search(" ".join(_words(text)))) or classify(text).name in _REQUESTS


def says_goodbye(text: str) -> bool:
    """The dialogue would take these words for a goodbye and hang up ("Bye-bye.", "Bye,")."""
    return classify(text).name == "goodbye"


def taken_back(text: str) -> str | None:
    """The caller's words from the last sentence that takes back what came before it ("What
    are your hours? Sorry, I only need the price."), or None when no later sentence does.
    For a turn joined across a pause: a caller who cuts in with a correction asks anew."""
    sentences = re.split(r"(?<=[.?!])\s+", text.strip())
    for i in range(len(sentences) - 1, 0, -1):
        if _TAKES_BACK.match(" ".join(_words(sentences[i]))):
            return " ".join(sentences[i:])
    return None


def _words(text: str) -> list[str]:
    """Lower-case words, punctuation dropped ("Mm-hmm." -> ["mm", "hmm"])."""
    return re.sub(r"[^\w\s']", " ", text.lower()).split()
