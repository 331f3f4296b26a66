"""Word error rate between what a caller said and what TOM's STT heard.

Both sides are normalised the same way first, so the score counts misheard words and not
spelling conventions: case, punctuation, "twenty-five" vs "25", "fünfundzwanzig" vs "25",
"$25" vs "25 dollars", "ß" vs "ss", "you're" vs "you are", "war's" vs "war es", and one word
written as two or two as one ("log in" / "login", "mail box" / "mailbox", "Danke schön" /
"Dankeschön"): Whisper writes either for the same sound, so neither is a misheard word — nor
is a word boundary in the wrong place where the letters are the same ("Wo genau" / "Wogenau"):
the score counts the sounds Whisper got wrong, not where it put the spaces. Umlauts are kept:
"für" and "fur" are different words. Number words are read by `tom.conversation.numbers`, the
same code the number guard uses.
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
# English contractions written out ("'d" stays: "would" or "had"; "'s" only after the words it
# shortens "is" for, not a possessive). Applied in order: "can't" before the general "n't".
_CONTRACTIONS_EN = (
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bshan't\b"), "shall not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"\bi'm\b"), "i am"),
    (re.compile(r"\blet's\b"), "let us"),
    (re.compile(r"\b(it|that|there|here|what|where|who|how|he|she)'s\b"), r"\1 is"),
)
# German: "war's", "geht's", "gibt's" are "war es", "geht es", "gibt es".
_CONTRACTIONS = {"en": _CONTRACTIONS_EN, "de": ((re.compile(r"(?<=\w)'s\b"), " es"),)}
_DROP = {"oclock"}


def normalize(text: str, language: str = "en") -> list[str]:
    """Text to comparable words: lower case, no punctuation, numbers as digits, ß as ss."""
    lang = language[:2].lower()
    s = unicodedata.normalize("NFC", text).lower().replace("ß", "ss").replace("ẞ", "ss")
    s = _APOSTROPHES.sub("'", s)
    for pattern, repl in _CONTRACTIONS.get(lang, ()):
        s = pattern.sub(repl, s)
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
    """Levenshtein distance over words (substitutions, deletions, insertions cost 1), where two
    adjacent words on one side that make one word of the other ("log in" / "login") cost 0."""
    d = [[i + j if not i or not j else 0 for j in range(len(hyp) + 1)]
         for i in range(len(ref) + 1)]
    for i in range(1, len(ref) + 1):
        for j in range(1, len(hyp) + 1):
            best = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]))
            if i > 1 and ref[i - 2] + ref[i - 1] == hyp[j - 1]:
                best = min(best, d[i - 2][j - 1])
            if j > 1 and hyp[j - 2] + hyp[j - 1] == ref[i - 1]:
                best = min(best, d[i - 1][j - 2])
            d[i][j] = best
    return d[-1][-1]


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
