"""Do the caller's words so far read as a finished sentence?

Smart Turn hears prosody; on a clearly finished "Thank you very much. Goodbye." or "Yes,
that's right." it still says "unfinished" about one time in ten (measured on the bench's and
the recorded callers' pauses), and such a turn then waits the long fallback
(`turns.unfinished_silence_ms`). The words break the tie: Whisper punctuates what sounds
finished, and a sentence cut off mid-way ends on a word that needs a continuation ("for my",
"und dann"). Words that read finished end the turn after `turns.finished_words_silence_ms`.
Cut off mid-sentence, Whisper also ends the sentence itself ("I'd like to book a" → "… a
second."), unsure of the word it adds and aligning it where the caller was already silent, or
drops the word the caller stopped after ("How much does it cost to" → "… cost?"), expecting
more all the same, or loops ("how long does it, how long does it, how"): `doubts_end` finds
these, and `judge_pause` takes them for no sign either way.
"""

from __future__ import annotations

import enum
import re

from tom.config import TurnsSettings
from tom.engine.loops import looping
from tom.engine.stt import Transcript

# Words no sentence ends on: articles, possessives, conjunctions, subject pronouns, fillers.
# (Not auxiliaries or object pronouns: "Yes, I do.", "Thank you.", "Can you fix it?"; not
# "an", which is also a German particle: "Ich rufe morgen an.")
CONTINUES = frozenset("""
a the my your our their his its every
and or but because if when while although though whether
i we they he she i'm it's there's
um uh er erm
der die den dem des ein eine einen einem einer eines mein meine meinen meinem unser
unsere und oder aber denn weil dass wenn ob sondern ich wir äh ähm öh
""".split())
# Prepositions end a statement rarely, and a question only where a question word left them
# behind ("What's it for?", "Who do I talk to?"); "Are you open on?" is Whisper's question mark
# on a caller cut off mid-way. German questions keep them ("Wofür ist das?"); German separable
# particles ("Ich rufe morgen an.") are left out on purpose.
PREPOSITIONS = frozenset("""
to for of in on at by with from into about than as
zum zur für von vom am im
""".split())
# ... a question whose last sentence opens with such a word ("So what is it for?", "Sorry, who
# am I talking to?")
_STRANDS = re.compile(r"(?:^|[.!?]\s+)(?:[\w']+,\s+)?(?:(?:so|and|but)\s+)?"
                      r"(?:what|who|whom|which|where)\b"
                      r"[^.!?]*\?$", re.IGNORECASE)
# A farewell closes the turn even where Whisper leaves it unpunctuated ("Great Thanks Bye"
# waited the 1.4 s fallback in the bench).
FAREWELLS = frozenset("bye goodbye tschüss tschüs ciao wiederhören wiederschauen".split())
# A last word placed at the very end of the voice is believed only this sure: offline, the
# words Whisper added there scored 0.3-0.9 (34 of 42 below 0.8), a short word said there
# ("isn't it?") 0.98-1; in the bench "next Tuesday, please." scored 0.87.
SURE_LATE_WORD = 0.8
# A number read out in groups ("My number is 0151 | 2345 | 6789"): every group sounds finished
# and Whisper gives it a full stop, yet more digits follow as often as not.
_DIGIT_GROUP = re.compile(r"\d{3,}\W*$")
_LAST_WORD = re.compile(r"([\w'äöüß]+)\W*$", re.IGNORECASE)


class Ends(enum.Enum):
    """When a turn ends, judged at a pause."""

    NOW = "now"  # sound and words say finished
    SOONER = "sooner"  # after `turns.finished_words_silence_ms`
    LATER = "later"  # after `turns.unfinished_silence_ms`


def doubts_end(words: Transcript, silence_s: float, turns: TurnsSettings,
               sound_finished: bool = True) -> bool:
    """Is the end of Whisper's text its own guess rather than the caller's? Cut off
    mid-sentence, Whisper ends the sentence itself in one of two ways. It adds a word: one it
    is less sure of than `turns.sure_word_prob` (`turns.sure_word_prob_unfinished` where
    Smart Turn heard the caller unfinished, `sound_finished` False), or aligns to start less than
    `turns.added_word_ms` before the caller's voice ended (`silence_s`: the silence at the end
    of the audio it transcribed), too late to have been said, and is not quite sure of (a
    short last word said at the very end, "isn't it?", is one it is sure of). Or it drops the
    word the caller stopped after ("How much does it cost to" → "How much does it cost?") and
    still gives a next word at least `turns.more_words_prob` where it ends the sentence.
    Or it falls into a loop that is still going ("how long does it, how long does it, how";
    `looping`). Not measured: believed."""
    if 0 < turns.more_words_prob <= words.more_words_prob or looping(words.text):
        return True
    last = words.last_word
    sure = turns.sure_word_prob if sound_finished else max(turns.sure_word_prob,
                                                           turns.sure_word_prob_unfinished)
    if last.prob < sure:
        return True
    lead_s = last_word_lead_s(words, silence_s)
    return (turns.added_word_ms > 0 and lead_s is not None and last.prob < SURE_LATE_WORD
            and lead_s < turns.added_word_ms / 1000)


def last_word_lead_s(words: Transcript, silence_s: float) -> float | None:
    """How long before the caller's voice ended Whisper starts the last word (negative: in
    the silence after it); `silence_s`: the silence the transcribed audio ends on. None: not
    placed."""
    start_s = words.last_word.start_s
    return None if start_s is None else words.audio_s - silence_s - start_s


def judge_pause(complete: bool, text: str, doubted: bool = False) -> Ends:
    """Smart Turn's verdict (`complete`) and the words at the pause together. The words break
    the tie either way; an end Whisper made itself (`doubted`, see `doubts_end`) is no
    sign of an end (cut off mid-sentence, it ends the sentence itself: "I'd like to book a
    second."), unless it is a farewell (Whisper is often unsure of "Bye bye."). A farewell
    ends the turn whatever its sound: Smart Turn gave a drawn-out "Bye!" 0.02-0.24 in the
    bench, and the turn waited `finished_words_silence_ms` for a caller who had hung up in
    their head. Finished words that end on a group of digits may be a number read out in
    parts: the shorter wait. No words: the sound decides."""
    farewell = bool(text) and _last_word(text) in FAREWELLS
    if farewell and not reads_open(text):
        return Ends.NOW
    unsure = bool(text) and doubted and not farewell
    if complete:
        if not text or (reads_finished(text) and not unsure):
            return Ends.SOONER if _DIGIT_GROUP.search(text) else Ends.NOW
        # "I'd like to book a" sounds finished; unpunctuated words that do not plainly go on
        # ("0151 234 56789") may be finished all the same
        return Ends.LATER if unsure or reads_open(text) else Ends.SOONER
    return Ends.SOONER if reads_finished(text) and not unsure else Ends.LATER


def reads_finished(text: str) -> bool:
    """A sentence end (. ? !) that is not a trailing-off ("…", "...", "-") after a word that
    may end a sentence; or a farewell as the last word."""
    words = text.strip()
    if not words or reads_open(words):
        return False
    return words[-1] in ".?!" or _last_word(words) in FAREWELLS


def _last_word(text: str) -> str:
    last = _LAST_WORD.search(text)
    return "" if last is None else last.group(1).lower()


def reads_open(text: str) -> bool:
    """The words plainly go on: a trailing-off, or a last word no sentence ends on ("for my",
    "und dann"; a preposition, but in a question asking what, who, which or where). Text
    without a sentence end that is not open may be finished all the same (Whisper leaves
    "0151 234 56789" or "Saturday" unpunctuated now and then)."""
    words = text.strip()
    if not words or words.endswith(("...", "..", "…", "-", ",")):
        return True
    word = _last_word(words)
    return not word or word in CONTINUES or (word in PREPOSITIONS and not _STRANDS.search(words))
