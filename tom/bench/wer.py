"""Word error rate between what a caller said and what TOM's STT heard.

Both sides are normalised the same way first, so the score counts misheard words and not
spelling conventions: case, punctuation, "twenty-five" vs "25", "fünfundzwanzig" vs "25",
"$25" vs "25 dollars", "ß" vs "ss". Umlauts are kept: "für" and "fur" are different words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# --- English number words -------------------------------------------------------------------------

_EN_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_EN_TENS = {w: 10 * i for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
_EN_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}


def _en_under_hundred(tokens: list[str], i: int) -> tuple[int, int] | None:
    """(value, next index) for 0..99 at tokens[i], or None."""
    if i >= len(tokens):
        return None
    word = tokens[i]
    if word in _EN_TENS:
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        unit = _EN_UNITS.get(nxt, _EN_ORDINALS.get(nxt, 0))
        if 1 <= unit <= 9:
            return _EN_TENS[word] + unit, i + 2
        return _EN_TENS[word], i + 1
    if word in _EN_UNITS:
        return _EN_UNITS[word], i + 1
    if word in _EN_ORDINALS:
        return _EN_ORDINALS[word], i + 1
    return None


def _en_under_thousand(tokens: list[str], i: int) -> tuple[int, int] | None:
    first = _en_under_hundred(tokens, i)
    if first and first[1] < len(tokens) and tokens[first[1]] == "hundred" and 1 <= first[0] <= 19:
        value, j = first[0] * 100, first[1] + 1
        return _en_tail(tokens, j, value)
    if i < len(tokens) and tokens[i] == "hundred":
        return _en_tail(tokens, i + 1, 100)
    return first


def _en_tail(tokens: list[str], j: int, value: int) -> tuple[int, int]:
    """After "hundred"/"thousand": an optional "and" and a number below 100."""
    k = j + 1 if j < len(tokens) and tokens[j] == "and" else j
    rest = _en_under_hundred(tokens, k)
    return (value + rest[0], rest[1]) if rest else (value, j)


def _en_number(tokens: list[str], i: int) -> tuple[int, int] | None:
    head = _en_under_thousand(tokens, i)
    if head is None and i < len(tokens) and tokens[i] == "thousand":
        head = (1, i)
    if head is None:
        return None
    value, j = head
    if j < len(tokens) and tokens[j] == "thousand" and 1 <= value <= 999:
        k = j + 1
        if k < len(tokens) and tokens[k] == "and":
            rest = _en_under_hundred(tokens, k + 1)
            return (value * 1000 + rest[0], rest[1]) if rest else (value * 1000, k)
        rest = _en_under_thousand(tokens, k)
        return (value * 1000 + rest[0], rest[1]) if rest else (value * 1000, k)
    return value, j


def _en_numbers_to_digits(tokens: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        parsed = _en_number(tokens, i)
        if parsed is None:
            out.append(tokens[i])
            i += 1
        else:
            out.append(str(parsed[0]))
            i = parsed[1]
    return out


# --- German number words (written as one word: "dreihundertfünfundzwanzig") -----------------------

_DE_MORPHEMES = {
    "null": 0, "eins": 1, "ein": 1, "zwei": 2, "zwo": 2, "drei": 3, "vier": 4, "fünf": 5,
    "sechs": 6, "sieben": 7, "acht": 8, "neun": 9, "zehn": 10, "elf": 11, "zwölf": 12,
    "dreizehn": 13, "vierzehn": 14, "fünfzehn": 15, "sechzehn": 16, "siebzehn": 17,
    "achtzehn": 18, "neunzehn": 19, "zwanzig": 20, "dreissig": 30, "vierzig": 40, "fünfzig": 50,
    "sechzig": 60, "siebzig": 70, "achtzig": 80, "neunzig": 90, "hundert": 100, "tausend": 1000,
    "und": -1,
}
_DE_BY_LENGTH = sorted(_DE_MORPHEMES, key=len, reverse=True)
_DE_ORDINAL_STEMS = {"erst": 1, "dritt": 3, "siebt": 7, "acht": 8}
_DE_ENDINGS = ("", "e", "en", "er", "es", "em")


def _de_segment(word: str) -> list[str] | None:
    """Split a word into number morphemes, or None when it is not made of them."""
    if not word:
        return []
    for morpheme in _DE_BY_LENGTH:
        if word.startswith(morpheme):
            rest = _de_segment(word[len(morpheme):])
            if rest is not None:
                return [morpheme, *rest]
    return None


def _de_under_hundred(parts: list[str]) -> int | None:
    values = [_DE_MORPHEMES[p] for p in parts]
    if len(values) == 1 and values[0] >= 0 and values[0] < 100 and parts[0] != "ein":
        return values[0]
    if len(values) == 3 and 1 <= values[0] <= 9 and values[1] == -1 and 20 <= values[2] < 100 \
            and values[2] % 10 == 0:
        return values[0] + values[2]
    return None


def _de_under_thousand(parts: list[str]) -> int | None:
    if "hundert" in parts:
        k = parts.index("hundert")
        head = 1 if k == 0 else (_DE_MORPHEMES[parts[0]] if k == 1 else None)
        if head is None or not 1 <= head <= 19:
            return None
        tail = parts[k + 1:]
        if tail[:1] == ["und"]:
            tail = tail[1:]
        rest = _de_under_hundred(tail) if tail else 0
        return None if rest is None else head * 100 + rest
    return _de_under_hundred(parts) if parts else None


def _de_cardinal(word: str) -> int | None:
    parts = _de_segment(word)
    if not parts:
        return None
    if "tausend" in parts:
        k = parts.index("tausend")
        head = 1 if k == 0 else _de_under_thousand(parts[:k])
        rest = _de_under_thousand(parts[k + 1:]) if parts[k + 1:] else 0
        if head is None or rest is None:
            return None
        return head * 1000 + rest
    return _de_under_thousand(parts)


def _de_word_to_int(word: str) -> int | None:
    """Cardinal or ordinal German number word to its value ("dritten" → 3), else None."""
    value = _de_cardinal(word)
    if value is not None:
        return value
    for ending in _DE_ENDINGS:
        core = word[:len(word) - len(ending)] if ending else word
        if ending and not word.endswith(ending):
            continue
        if core in _DE_ORDINAL_STEMS:
            return _DE_ORDINAL_STEMS[core]
        if core.endswith("st") and (value := _de_cardinal(core[:-2])) is not None and value >= 20:
            return value
        if core.endswith("t") and (value := _de_cardinal(core[:-1])) is not None and value < 20:
            return value
    return None


def _de_numbers_to_digits(tokens: list[str]) -> list[str]:
    out = []
    for tok in tokens:
        value = _de_word_to_int(tok)
        out.append(tok if value is None else str(value))
    return out


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
    if lang == "de":
        tokens = _de_numbers_to_digits(tokens)
    elif lang == "en":
        tokens = _en_numbers_to_digits(tokens)
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
