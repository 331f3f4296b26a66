"""Whisper decoder loops: the same words again and again ("7 of hearts, 7 of hearts, 7 of …").

A small Whisper model that loses its place repeats the last phrase until its token budget runs
out. `drop_repeats` (tom/engine/stt.py) cuts repeats that start a sentence over; this catches
the loops inside a sentence (phrases separated by commas or nothing) that reach the end of the
text, where a person repeating themselves would not go on three times.
"""

from __future__ import annotations

import re

MIN_REPEATS = 3  # a phrase of two or more words said this often in a row, to the end, is a loop
MIN_REPEATS_ONE_WORD = 4  # "no, no, no" is a caller; "hearts hearts hearts hearts" is not
MIN_REPEATS_DIGIT = 8  # "my PIN is 5 5 5 5" is a caller


def _norm(word: str) -> str:
    return re.sub(r"\W", "", word.lower())


def cut_loop(text: str) -> str:
    """`text` with a loop that runs to its end reduced to its first round.

    A loop is a run of words followed by itself at least `MIN_REPEATS` times in all (four for
    a single word), possibly ending in a cut-off start of one more round.
    """
    words = text.split()
    norm = [_norm(w) for w in words]
    n = len(words)
    for start in range(n):
        for size in range(1, (n - start) // 2 + 1):
            need = MIN_REPEATS if size > 1 else (
                MIN_REPEATS_DIGIT if norm[start].isdigit() else MIN_REPEATS_ONE_WORD)
            if n - start < size * need:
                continue
            if not _repeats(norm, start, size):
                continue
            if not any(norm[start:start + size]):
                continue  # punctuation only
            kept = " ".join(words[:start + size]).rstrip(",;:-")
            return kept if kept[-1:] in ".?!" else kept + "."
    return text



def _repeats(norm: list[str], start: int, size: int) -> bool:
    """From `start` to the end, `norm` repeats its `size` words from `start` (the last round
    may stop short)."""
    return all(norm[k] == norm[start + (k - start) % size] for k in range(start, len(norm)))


def looping(text: str) -> bool:
    """Does `text` end inside a loop that is still going: a phrase of two or more words said
    twice in a row and begun a third time ("how long does it, how long does it, how")? Cut off
    by a pause mid-sentence, Whisper falls into such a loop; a caller who repeats themselves
    finishes the phrase ("thank you, thank you"). Fewer rounds than `cut_loop` needs."""
    norm = [_norm(w) for w in text.split()]
    n = len(norm)
    for size in range(2, n // 2 + 1):
        for begun in range(1, size):  # words of the third round
            start = n - 2 * size - begun
            if start >= 0 and _repeats(norm, start, size) and any(norm[start:start + size]):
                return True
    return False
