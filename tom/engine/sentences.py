"""Cuts streamed LLM text into speakable pieces: sentences, and an early first clause.

Speaking the first clause as soon as it exists lets TTS start while the LLM still writes.
"""

from __future__ import annotations

import re

ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "vs", "etc", "e.g", "i.e", "approx",
    "no", "nr", "tel", "ca", "bzw", "z.b", "u.a", "d.h", "usw", "str", "hr", "fr", "inc", "ltd",
    "a.m", "p.m", "mon", "tue", "wed", "thu", "fri", "sat", "sun", "jan", "feb", "mar", "apr",
    "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
}
# Words a long first sentence may be cut before, so its first part is synthesised sooner.
SOFT_BREAKS = {
    "and", "but", "or", "from", "at", "on", "in", "with", "for", "because", "which",
    "that", "so", "until", "between", "und", "oder", "aber", "von", "mit", "für", "weil",
    "dass", "im", "zwischen",
}
LONG_FIRST_WORDS = 10

_END = re.compile(r"[.!?…]+[\"'”’)]*(?=\s)")
_CLAUSE = re.compile(r"[,;:—–](?=\s)")


def sentences_of(text: str) -> list[str]:
    """A whole text cut as TOM speaks it (the same pieces, so the same cached audio)."""
    chunker = SentenceChunker()
    return chunker.feed(text + " ") + chunker.flush()


class SentenceChunker:
    """Feed text pieces; get back complete sentences as they form."""

    def __init__(self, first_clause_words: int = 4, max_words: int = 30) -> None:
        self.buffer = ""
        self.first_clause_words = first_clause_words
        self.max_words = max_words
        self.emitted = 0

    def feed(self, text: str) -> list[str]:
        self.buffer += text
        out: list[str] = []
        while (piece := self._next()) is not None:
            out.append(piece)
        return out

    def flush(self) -> list[str]:
        rest = " ".join(self.buffer.split())
        self.buffer = ""
        return [rest] if _speakable(rest) else []

    def _next(self) -> str | None:
        end = self._sentence_end()
        if self.emitted == 0:
            first = self._first_piece_end(end)
            if first is not None:
                return self._take(first)
        if end is not None:
            return self._take(end)
        words = self.buffer.split()
        if len(words) > self.max_words:  # a run-on sentence: cut at the last clause mark
            marks = list(_CLAUSE.finditer(self.buffer))
            if marks:
                return self._take(marks[-1].end())
        return None

    def _sentence_end(self) -> int | None:
        for match in _END.finditer(self.buffer):
            if _is_abbreviation(self.buffer, match.start()) or _is_number_dot(self.buffer, match):
                continue
            return match.end()
        return None

    def _first_piece_end(self, sentence_end: int | None) -> int | None:
        """End of a short first piece: the first clause, or a long sentence cut at a soft break."""
        text = self.buffer[:sentence_end] if sentence_end is not None else self.buffer
        for match in _CLAUSE.finditer(text):
            if len(text[:match.start()].split()) >= self.first_clause_words:
                text = text[:match.end()]
                break
        spans = [m.span() for m in re.finditer(r"\S+", text)]
        complete = sentence_end is not None or len(text) < len(self.buffer)
        if len(spans) <= LONG_FIRST_WORDS:
            return len(text) if complete and text.strip() else None
        for i in range(LONG_FIRST_WORDS - 1, self.first_clause_words - 1, -1):
            word = text[spans[i][0]:spans[i][1]].lower()
            if word in SOFT_BREAKS:  # the latest break keeps the first piece natural
                return spans[i][0]
        return len(text) if complete else None

    def _take(self, end: int) -> str | None:
        piece = " ".join(self.buffer[:end].split())
        self.buffer = self.buffer[end:]
        if not _speakable(piece):
            return self._next()
        self.emitted += 1
        return piece


def _speakable(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _is_abbreviation(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    word = re.findall(r"[\w.]+$", text[:dot])
    if not word:
        return False
    token = word[0].lower().rstrip(".")
    return token in ABBREVIATIONS or (len(token) == 1 and token.isalpha())


def _is_number_dot(text: str, match: re.Match[str]) -> bool:
    """German ordinals and dates: "am 3. Mai" — a digit before the dot and a word after it."""
    if text[match.start()] != "." or match.end() - match.start() != 1:
        return False
    before = text[:match.start()]
    after = text[match.end():].lstrip()
    if re.search(r"(?:^|\s)\d{1,2}$", before) and not after:
        return True  # undecided until the next word arrives
    return bool(re.search(r"(?:^|\s)\d{1,2}$", before)) and after[:1].isalpha() \
        and after[:1].isupper() and _looks_german_month_or_noun(after)


_GERMAN_MONTHS = ("januar", "februar", "märz", "april", "mai", "juni", "juli", "august",
                  "september", "oktober", "november", "dezember")


def _looks_german_month_or_noun(after: str) -> bool:
    word = re.match(r"\w+", after)
    return word is not None and word.group(0).lower() in _GERMAN_MONTHS
