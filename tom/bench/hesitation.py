"""Where a caller who stops to think pauses: after a word no sentence ends on.

People hesitate mid-clause, mostly just before a content word ("I'd like to book a … service"),
so `--pauses` puts its silence after an article, possessive, preposition or conjunction near
the middle of the utterance (the bench's own list, not TOM's). Where in the audio that is comes
from piper's own phoneme timings (English) or Whisper's word timings of the utterance as spoken
(German MBROLA callers): `CallerVoice.hesitant`. The first runs took
it from the lengths of the two halves spoken alone, a guess that put the pause inside words
("the work … shop", "does it … cost"), and put utterances without such a word mid-way, often
between two sentences: neither is a pause inside a sentence. Those now get no pause.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# Words after which a sentence cannot be over. Left out on purpose: words that also end
# sentences ("that", "it", "so", German "an"/"auf" as verb particles, "das"/"die" as pronouns).
FUNCTION_WORDS = {
    "en": frozenset("""a an the my your our their his her its to for of in on at with from about
        into than and or but because if when whether while""".split()),
    "de": frozenset("""ein eine einen einem einer eines mein meine meinen meinem meiner unser
        unsere unseren ihr ihre ihren ihrem den dem des für mit von vom zum zur im am bei nach
        und oder aber weil dass wenn ob""".split()),
}
_WORD = re.compile(r"[\w'’-]+", re.UNICODE)
MIN_SIDE_WORDS = 2  # words before the function word (and at least one after it)


def split_for_pause(text: str, language: str = "en") -> tuple[str, str] | None:
    """`text` cut after the function word nearest its middle (by characters); None when it has
    none with two words before it and one after."""
    words = FUNCTION_WORDS.get(language, FUNCTION_WORDS["en"])
    found = list(_WORD.finditer(text))
    best: tuple[float, int] | None = None
    for i, m in enumerate(found[:-1]):
        if i < MIN_SIDE_WORDS or m.group(0).lower() not in words:
            continue
        if not re.fullmatch(r"\s+", text[m.end():found[i + 1].start()]):
            continue  # punctuation after it: a clause boundary, not a hesitation
        distance = abs(m.end() / len(text) - 0.5)
        if best is None or distance < best[0]:
            best = (distance, m.end())
    if best is None:
        return None
    return text[:best[1]].strip(), text[best[1]:].strip()


@dataclass(frozen=True, slots=True)
class WordTime:
    """One word Whisper heard in the caller's audio, with its start and end in seconds."""

    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class Gap:
    """Where between two words a pause may go, in seconds into the utterance's audio."""

    start_s: float
    end_s: float


WHISPER_SLACK_S = 0.04  # Whisper's word times are ±0.1 s: the gap is looked for this near


def pause_gap(text: str, words: Sequence[WordTime], language: str = "en") -> Gap | None:
    """The gap between the function word of `split_for_pause` and the word after it, as Whisper
    timed them in the caller's audio (the pair nearest its place in `text`); None when the text
    has no such point or Whisper did not hear that pair (no pause is better than one inside a
    word or after a sentence)."""
    split = split_for_pause(text, language)
    if split is None:
        return None
    before = [_key(m.group(0)) for m in _WORD.finditer(split[0])]
    after = _key(_WORD.findall(split[1])[0])
    heard = [_key(w.text) for w in words]
    pairs = [i for i in range(len(heard) - 1) if heard[i] == before[-1] and heard[i + 1] == after]
    if not pairs:
        return None
    i = min(pairs, key=lambda k: abs(k - (len(before) - 1)))
    at = (words[i].end_s + words[i + 1].start_s) / 2
    return Gap(at - WHISPER_SLACK_S, at + WHISPER_SLACK_S)


def _key(word: str) -> str:
    return word.strip(" .,;:!?\"'’").lower().replace("’", "'")
