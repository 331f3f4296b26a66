"""Word error rate between what a caller said and what TOM's STT heard.

Both sides are normalised the same way first, so the score counts misheard words and not
spelling conventions: case, punctuation, "twenty-five" vs "25", "fünfundzwanzig" vs "25",
"$25" vs "25 dollars", "ß" vs "ss". Umlauts are kept: "für" and "fur" are different words.
Number words are read by `tom.conversation.numbers`, the same code the number guard uses.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from tom.conversation.numbers import numbers_to_digits

# --- normalisation --------------------------------------------------------------------------------

_CURRENCY = (
    (re.compile(r"\$\s?(\d[\d.,]*)"), r"\1 dollar "),
    (re.compile(r"€\s?(\d[\d.,]*)"), r"\1 euro "),
    (re.compile(r"£\s?(\d[\d.,]*)"), r"\1 pound "),
)
_SYMBOLS = {"$": " dollar ", "€": " euro ", "£": " pound "}
_PLURALS = {"dollars": "dollar", "euros": "euro", "pounds": "pound", "cents": "cent"}
_THOUSANDS = re.compile(r"(?<=\d)[.,](?=\d{3}(?!\d))")
_DIGIT_SEP = re.compile(r"(?<=\d)[.,:](?=\d)")
_ORDINAL_DIGITS = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b")
_ABBREV = re.compile(r"\b(?:[a-z]\.){2,}")
_APOSTROPHES = re.compile(r"['’`´]")
_DROP = {"oclock"}


def normalize(text: str, language: str = "en") -> list[str]:
    """Text to comparable words: lower case, no punctuation, numbers as digits, ß as ss."""
    lang = language[:2].lower()
    s = unicodedata.normalize("NFC", text).lower().replace("ß", "ss").replace("ẞ", "ss")
    for pattern, repl in _CURRENCY:
        s = pattern.sub(repl, s)
    s = s.replace("%", " prozent " if lang == "de" else " percent ")
    s = s.replace("&", " und " if lang == "de" else " and ")
    for sym, word in _SYMBOLS.items():
        s = s.replace(sym, word)
    s = re.sub(r"(?<=\d):00\b", "", s)
    s = _THOUSANDS.sub("", s)
    s = _DIGIT_SEP.sub(" ", s)
    s = _ORDINAL_DIGITS.sub(r"\1", s)
    s = _ABBREV.sub(lambda m: m.group(0).replace(".", ""), s)
    s = _APOSTROPHES.sub("", s)
    s = "".join(" " if unicodedata.category(c)[0] in "PSZC" else c for c in s)
    tokens = [_PLURALS.get(t, t) for t in s.split() if t not in _DROP]
    if lang in ("en", "de"):
        tokens = numbers_to_digits(tokens, lang)
    return _digit_runs(tokens)


def _digit_runs(tokens: list[str]) -> list[str]:
    """Adjacent digit groups compare digit by digit, so a phone number written "0151-2345" or
    spoken "zero one five one, two three four five" counts the same."""
    out: list[str] = []
    run: list[str] = []
    for token in [*tokens, ""]:
        if token.isdigit():
            run.append(token)
            continue
        if len(run) > 1 or (run and len(run[0]) > 3):
            out.extend("".join(run))
        else:
            out.extend(run)
        run = []
        if token:
            out.append(token)
    return out


# --- scoring --------------------------------------------------------------------------------------


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Exact Levenshtein distance over words (substitutions, deletions, insertions cost 1)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


@dataclass(frozen=True, slots=True)
class WordErrors:
    """Errors against a reference; add several to get a corpus-level WER."""

    errors: int
    ref_words: int

    @property
    def wer(self) -> float:
        if self.ref_words == 0:
            return 0.0 if self.errors == 0 else 1.0
        return self.errors / self.ref_words

    def __add__(self, other: WordErrors) -> WordErrors:
        return WordErrors(self.errors + other.errors, self.ref_words + other.ref_words)


def word_errors(reference: str, hypothesis: str, language: str = "en") -> WordErrors:
    ref, hyp = normalize(reference, language), normalize(hypothesis, language)
    return WordErrors(edit_distance(ref, hyp), len(ref))


def wer(reference: str, hypothesis: str, language: str = "en") -> float:
    """Word error rate after normalisation; may exceed 1 when TOM heard many extra words."""
    return word_errors(reference, hypothesis, language).wer
