"""Where a caller who stops to think pauses: after a word no sentence ends on.

People hesitate mid-clause, mostly just before a content word ("I'd like to book a … service"),
so `--pauses` puts its silence after an article, possessive, preposition or conjunction near
the middle of the utterance (the bench's own list, not TOM's). Where in the audio that is comes
from speaking the two halves alone: their voiced lengths give the split's share of the whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from tom.audio import float_to_pcm16

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


def pause_share(speak: Callable[[str], tuple[np.ndarray, int]],
                bounds: Callable[[bytes, int], tuple[int, int]], text: str,
                language: str = "en") -> float | None:
    """The share of the voiced utterance spoken before the pause point, or None (no point)."""
    split = split_for_pause(text, language)
    if split is None:
        return None
    lengths = []
    for part in split:
        audio, rate = speak(part)
        start, end = bounds(float_to_pcm16(audio), rate)
        lengths.append(max(1, end - start))
    return lengths[0] / (lengths[0] + lengths[1])
