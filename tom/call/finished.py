"""Do the caller's words so far read as a finished sentence?

Smart Turn hears prosody; on a clearly finished "Thank you very much. Goodbye." or "Yes,
that's right." it still says "unfinished" about one time in ten (measured on the bench's and
the recorded callers' pauses), and such a turn then waits the long fallback
(`turns.unfinished_silence_ms`). The words break the tie: Whisper punctuates what sounds
finished, and a sentence cut off mid-way ends on a word that needs a continuation ("for my",
"und dann"). Words that read finished end the turn after `turns.finished_words_silence_ms`.
"""

from __future__ import annotations

import re

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
_STRANDS = re.compile(r"(?:^|[.!?]\s+)(?:so\s+|and\s+|but\s+)?(?:what|who|whom|which|where)\b[^.!?]*\?$",
                      re.IGNORECASE)
# A farewell closes the turn even where Whisper leaves it unpunctuated ("Great Thanks Bye"
# waited the 1.4 s fallback in the bench).
FAREWELLS = frozenset("bye goodbye tschüss tschüs ciao wiederhören wiederschauen".split())
_LAST_WORD = re.compile(r"([\w'äöüß]+)\W*$", re.IGNORECASE)


def reads_finished(text: str) -> bool:
    """A sentence end (. ? !) that is not a trailing-off ("…", "...", "-") after a word that
    may end a sentence; or a farewell as the last word."""
    words = text.strip()
    if not words or reads_open(words):
        return False
    if words[-1] in ".?!":
        return True
    last = _LAST_WORD.search(words)
    return last is not None and last.group(1).lower() in FAREWELLS


def reads_open(text: str) -> bool:
    """The words plainly go on: a trailing-off, or a last word no sentence ends on ("for my",
    "und dann", a preposition but in a question that asks what, who, which or where). Text without a sentence end that is not open may be finished all the same
    (Whisper leaves "0151 234 56789" or "Saturday" unpunctuated now and then)."""
    words = text.strip()
    if not words or words.endswith(("...", "..", "…", "-", ",")):
        return True
    last = _LAST_WORD.search(words)
    if last is None:
        return True
    word = last.group(1).lower()
    return word in CONTINUES or (word in PREPOSITIONS and not _STRANDS.search(words))
