"""Text normalisation shared by intents, retrieval and the guard.

STT output arrives in any case, with or without punctuation and full of fillers; every matcher
works on the same normal form so that "Um, WHEN are you open?" and "when are you open" agree.
"""

from __future__ import annotations

import re
import unicodedata

FILLERS = frozenset({
    "uh", "uhh", "um", "umm", "uhm", "erm", "er", "ah", "ahh", "hmm", "hm", "mm", "mhm",
    "äh", "ähm", "öh", "öhm", "ehm", "naja",
})

# Words that carry no topic: dropped before search, ignored when judging "is this noise?".
_STOP_EN = """
a an the i im i'm i'd i'll id me my we us our you your it its it's is are am was be been do does
did to of in on at for and or so can could would will should please just there this that what
whats what's hi hello hey oh yeah yes okay ok well like with if any some about get have has tell
know want wanted wondering also then by from guys actually maybe need needs here they them he she
his her one very really much still not don't dont usually normally exactly too as when until than
how work works possible able anything something
"""
_STOP_DE = """
ich du sie wir ihr ihre mein meine meinen mir mich der die das den dem des ein eine einen einem
einer und oder ist sind bin hat habe haben wird werden kann können könnte könnten würde möchte
bitte mal auch noch so zu zum zur im in am an auf für mit von vom bei es hallo ja also doch denn
gerne gern eigentlich uns euch man wie was guten tag sagen wissen
"""
STOPWORDS = frozenset(_STOP_EN.split()) | frozenset(_STOP_DE.split())

_PUNCT = re.compile(r"[^\w\s'€+:.,?/-]", re.UNICODE)
_WORD = re.compile(r"[a-z0-9äöüß]+(?:['-][a-z0-9äöüß]+)*", re.UNICODE)
_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Lower-case NFC text without fillers or stray punctuation, one space between words."""
    text = unicodedata.normalize("NFC", text or "").lower().replace("’", "'")
    text = _PUNCT.sub(" ", text)
    words = [w for w in _SPACES.split(text) if w and w.strip(".,?") not in FILLERS]
    return " ".join(words)


def words(text: str) -> list[str]:
    """The words of already normalised text (punctuation dropped, hyphens and apostrophes kept)."""
    return _WORD.findall(text)


def stem(word: str) -> str:
    """A deliberately crude suffix stripper for English and German; it only has to agree with itself."""
    word = word.replace("'", "").replace("-", "")
    for suffix in ("ungen", "ments", "ment", "ung", "ing", "en", "es", "ed", "er", "e", "s", "n"):
        if len(word) - len(suffix) >= 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def fold(text: str) -> str:
    """ASCII-ish folding for fuzzy comparisons (umlauts spelt out, as STT sometimes does)."""
    text = text.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    return text
