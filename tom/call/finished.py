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

# Words a sentence does not end on: articles, possessives, prepositions, conjunctions, fillers.
CONTINUES = frozenset("""
a an the my your our their his her its this that these those some any no every
to for of in on at by with from into about than as like
and or but so because if when while although though whether then
is are was were be am will would can could should shall may might must do does did have has
i you we they he she it i'm it's there's
um uh er erm hmm eh
der die das den dem des ein eine einen einem einer eines mein meine meinen meinem ihr ihre
ihren ihrem unser unsere zu zum zur für mit von vom aus an am auf im in bei nach über um
und oder aber denn weil dass wenn ob als wie sondern also dann
ist sind war bin bist hat habe haben wird werden kann können möchte würde
ich sie wir er es äh ähm öh
""".split())
_LAST_WORD = re.compile(r"([\w'äöüß]+)\W*$", re.IGNORECASE)


def reads_finished(text: str) -> bool:
    """A sentence end (. ? !) that is not a trailing-off ("…", "...", "-") after a word that
    may end a sentence."""
    words = text.strip()
    if not words or words[-1] not in ".?!" or words.endswith(("...", "..", "…")):
        return False
    last = _LAST_WORD.search(words)
    return last is not None and last.group(1).lower() not in CONTINUES
