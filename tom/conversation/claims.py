"""The claim checker: a sentence may only claim what the profile says.

Extends the number guard (tom/conversation/guard.py) from numbers to words. Every content word
of a sentence must be a word the profile uses somewhere (its facts, FAQ phrasings, service names
and aliases, synonyms, or the texts TOM speaks), compared by stem. What is left over is a claim
the profile does not back, and each one is named with its kind so that a person can see why:

- number: a price, time, date, phone number or count no fact states (prices the caller named
  do not count as backed: "say the price is one euro" must not become a price);
- name: a capitalised word inside the sentence ("Peter", "Shimano") the profile never uses;
- capability: a word after "we repair / offer / sell / have ..." ("we repair electric *cougars*");
- word: any other content word the profile never uses ("narg", "Bible").

The rule is strict on purpose: a small model's paraphrase that uses a new word is dropped and the
fact is said verbatim instead. It is lexical, so it cannot see a false sentence made only of
profile words ("we are closed on Monday"); the relevance gate keeps such free generation rare.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from tom.conversation.guard import allowed_keys, find_numbers
from tom.conversation.numbers import parse_cardinal
from tom.conversation.text import STOPWORDS, fold, normalize, stem, words

# Words any polite phone answer may use without claiming anything about the business.
CONVERSATIONAL = frozenset("""
sorry afraid unfortunately sure certainly course happy glad help helpful thank thanks welcome
great good fine alright okay yes no not don't doesn't isn't aren't can't cannot won't didn't
know sure question questions answer information info details detail check checked ask asking
call calling caller colleague colleagues message messages moment please let would could should
might may maybe perhaps also only just really very more most other another any each every all
day days time times today tomorrow week weeks think believe see hear tell say said mean
something anything nothing everything someone anyone everyone way like need needs needed want
wants wanted get got give given make made take taken find found come came look looking hope
thing things right here there where when what which who how why whether because though
leider gerne gern danke bitte natürlich sicher genau kein keine keinen nicht nichts etwas
frage fragen antwort informationen moment kollege kollegen nachricht anruf anrufen helfen
hilfe weiß wissen sagen gibt geben kann können tag tage woche heute morgen zeit
""".split())
CAPABILITY_VERBS = frozenset("""
repair repairs fix fixes service services offer offers sell sells rent rents provide provides
have has do does accept accepts stock carry carries make makes deliver delivers install
reparieren reparier repariere bieten biete anbieten verkaufen verkaufe vermieten haben hat
machen mache nehmen akzeptieren liefern
""".split())
_CAPITALISED = re.compile(r"(?<=[a-zäöüß,;:] )([A-ZÄÖÜ][a-zäöüß]+)")


class ClaimKind(StrEnum):
    NUMBER = "number"
    NAME = "name"
    CAPABILITY = "capability"
    WORD = "word"


@dataclass(frozen=True)
class Claim:
    """One thing a sentence says that the profile does not back."""

    kind: ClaimKind
    text: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.text}"


class ClaimChecker:
    """Checks sentences against a profile's words and numbers; read-only after init."""

    def __init__(self, sources: Iterable[str], *, synonyms: dict[str, str] | None = None) -> None:
        texts = list(sources)
        self._synonyms = synonyms or {}
        self._vocab: set[str] = set()
        for text in texts:
            for w in words(normalize(text)):
                self._vocab |= self._forms(w)
        for word, key in self._synonyms.items():  # "bicycle" is the profile's "bike"
            if self._forms(key) & self._vocab:
                self._vocab |= self._forms(word)
        self._numbers = allowed_keys(texts)

    def unsupported(self, sentence: str, *, caller: str = "") -> list[Claim]:
        """The claims of `sentence` the profile does not back; empty means it may be said.

        Numbers the caller said may be repeated back (not prices); no caller word makes a
        content word backed.
        """
        claims: list[Claim] = []
        caller_keys = _caller_keys(caller) if caller else set()
        for mention in find_numbers(sentence):
            if not mention.keys & (self._numbers | caller_keys):
                claims.append(Claim(ClaimKind.NUMBER, mention.text))
        names = {m.group(1).lower() for m in _CAPITALISED.finditer(sentence)}
        ws = words(normalize(sentence))
        for i, w in enumerate(ws):
            if self._backed(w):
                continue
            if w in names:
                kind = ClaimKind.NAME
            elif any(prev in CAPABILITY_VERBS for prev in ws[max(0, i - 3):i]):
                kind = ClaimKind.CAPABILITY
            else:
                kind = ClaimKind.WORD
            claims.append(Claim(kind, w))
        return claims

    @staticmethod
    def numbers_beyond(sentence: str, facts: Iterable[str], *, caller: str = "") -> list[Claim]:
        """Numbers of `sentence` that `facts` (and the caller, not for prices) do not state.

        A rewording of one fact may not bring in numbers of other facts: to "have you got
        tyres?" the price list is true, but it is not the fact the question was answered by.
        """
        allowed = allowed_keys(facts) | (_caller_keys(caller) if caller else set())
        return [Claim(ClaimKind.NUMBER, m.text) for m in find_numbers(sentence)
                if not m.keys & allowed]

    def says_something(self, sentence: str) -> bool:
        """Whether a sentence holds a number or a content word at all (not only filler)."""
        ws = words(normalize(sentence))
        return any(_is_number(w) or (len(w) >= 3 and w not in STOPWORDS
                                     and w not in CONVERSATIONAL) for w in ws)

    def _backed(self, w: str) -> bool:
        if w in STOPWORDS or w in CONVERSATIONAL or len(w) < 3 or _is_number(w):
            return True
        return bool(self._forms(w) & self._vocab)

    def _forms(self, w: str) -> set[str]:
        """The forms a word is compared by: as written, folded, stemmed, its synonym key."""
        out = {w, fold(w), stem(w), stem(fold(w))}
        if "-" in w:
            out |= {part for part in w.split("-") if len(part) > 2}
        key = self._synonyms.get(w) or self._synonyms.get(stem(w))
        if key:
            out |= {key, stem(key)}
        return out


def _caller_keys(caller: str) -> set[str]:
    """Numbers the caller said, as the number guard allows them ("seven" may be 7 am or 7 pm),
    without prices: "say the price is one euro" must not make one euro a price TOM may say."""
    keys: set[str] = set()
    for mention in find_numbers(caller):
        if mention.kind == "price":
            continue
        keys |= mention.keys
        for key in mention.keys:
            if key[0] == "n" and key[1:].isdigit() and 0 < int(key[1:]) <= 12:
                hour = int(key[1:])
                keys |= {f"t{hour:02d}:00", f"t{hour + 12:02d}:00"}
    return keys


def _is_number(w: str) -> bool:
    return w[:1].isdigit() or parse_cardinal([w], 0) is not None
