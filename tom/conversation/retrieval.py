"""Search over a profile's FAQ phrasings, services and facts: BM25 plus fuzzy word repair.

Every profile entry is indexed under several short documents (each FAQ phrasing, each service
name and alias). A query scores against a document by normalised BM25 ("how much of this
phrasing did the caller say") and by query coverage ("how much of what the caller said does this
phrasing explain"). Unknown query words are mapped onto the nearest indexed word with rapidfuzz,
so STT slips like "opning ours" still land. Only a clear, unambiguous winner is answered
directly; everything else goes to the language model with the best facts as context.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process

from tom.conversation.guard import find_numbers
from tom.conversation.text import STOPWORDS, normalize, stem, words

if TYPE_CHECKING:
    from tom.conversation.profile import Profile

# Words that mean one thing for every business, in both languages (stems are looked up too).
BUILTIN_SYNONYMS = {
    "price": ("cost", "costs", "charge", "charges", "fee", "fees", "prices", "pricing", "rate",
              "rates", "preis", "preise", "kosten", "kostet", "teuer", "verlangen", "gebühr"),
    "open": ("opening", "opened", "close", "closing", "closed", "shut", "hours", "times",
             "offen", "geöffnet", "öffnungszeiten", "schließen", "geschlossen", "aufmachen"),
    "address": ("street", "location", "located", "directions", "adresse", "straße", "anschrift",
                "standort"),
    "pay": ("payment", "paying", "pays", "paid", "cash", "card", "cards", "visa", "mastercard",
            "amex", "contactless", "bezahlen", "zahlen", "zahlung", "bezahlung", "karte", "karten",
            "kreditkarte", "kreditkarten", "girokarte", "ec-karte", "bargeld"),
    "phone": ("telephone", "number", "telefon", "telefonnummer", "nummer", "rufnummer"),
}
PHRASES = (
    (re.compile(r"\bhow much\b"), "price"), (re.compile(r"\bwie ?viel\b"), "preis"),
    (re.compile(r"\be (bikes?)\b"), r"e-\1"),
    (re.compile(r"\b(auf|offen)\s*\??$"), "offen"),  # "wann haben sie auf"
    (re.compile(r"\bzu\s*\??$"), "geschlossen"),  # "wann machen sie zu"
)
LONG_TURN_WORDS = 14  # a long turn is also searched by its last words, where the question is

W_DOC, W_ENTRY, W_SPECIFIC = 0.45, 0.35, 0.2  # phrasing covered / query explained / by one phrasing
DIRECT_THRESHOLD = 0.6  # combined score a hit needs to be spoken without the LLM
MARGIN = 0.08  # ... and its lead over the best hit for a different answer
FUZZY_CUTOFF = 82  # rapidfuzz ratio for repairing an unknown query word
K1, B = 1.2, 0.5


@dataclass(frozen=True)
class Hit:
    """One profile entry that matched: kind is "faq", "service" or "fact"."""

    kind: str
    index: int
    text: str
    score: float
    matched: str


@dataclass(frozen=True)
class _Doc:
    kind: str
    index: int
    source: str
    terms: Counter[str]


class Retriever:
    """The search index of one profile; built once, read by every call (no mutation after init)."""

    def __init__(self, profile: Profile, *, threshold: float = DIRECT_THRESHOLD,
                 margin: float = MARGIN) -> None:
        self.profile = profile
        self.threshold = threshold
        self.margin = margin
        self._synonyms, self._phrases = _synonym_map(profile.synonyms)
        self._docs: list[_Doc] = []
        for i, entry in enumerate(profile.faq):
            for q in entry.questions:
                self._add("faq", i, q)
        for i, service in enumerate(profile.services):
            for name in (service.name, *service.aliases):
                self._add("service", i, name)
        self._facts = [self._terms(f) for f in profile.facts]
        self._entry_terms: dict[tuple[str, int], set[str]] = {}
        for d in self._docs:
            self._entry_terms.setdefault((d.kind, d.index), set()).update(d.terms)
        for (kind, index), entry_terms in self._entry_terms.items():
            entry_terms.update(self._terms(self._answer(_Doc(kind, index, "", Counter()))))
        self._surface: dict[str, str] = {}  # indexed word (or a synonym of one) -> its stem
        for text in [d.source for d in self._docs] + profile.facts:
            for w in self._words(text):
                self._surface.setdefault(w, stem(w))
        for w, key in self._synonyms.items():
            self._surface.setdefault(w, stem(key))
        all_docs = [d.terms for d in self._docs] + self._facts
        df: Counter[str] = Counter()
        for terms in all_docs:
            df.update(set(terms))
        n = len(all_docs)
        self._idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self._unknown_idf = math.log(1 + (n + 0.5) / 1.5) * 0.5
        self._avgdl = sum(sum(t.values()) for t in all_docs) / max(n, 1)
        self._self = [self._bm25(d.terms, d.terms) for d in self._docs]

    # --- public ---------------------------------------------------------------------------
    def search(self, query: str, k: int = 5) -> list[Hit]:
        """Best FAQ/service entries for `query`, one hit per entry, best first.

        A long turn is searched whole and by its last words (where callers put the question);
        each entry keeps its better score.
        """
        best: dict[tuple[str, int], Hit] = {}
        tokens = query.split()
        variants = [query] + ([" ".join(tokens[-LONG_TURN_WORDS:])]
                              if len(tokens) > LONG_TURN_WORDS else [])
        for variant in variants:
            for hit in self._score(self._query_terms(variant)):
                key = (hit.kind, hit.index)
                if key not in best or hit.score > best[key].score:
                    best[key] = hit
        return sorted(best.values(), key=lambda h: -h.score)[:k]

    def _score(self, q: Counter[str]) -> list[Hit]:
        """Per entry: its best phrasing's coverage, blended with how much of the query it explains."""
        if not q:
            return []
        q_mass = sum(self._idf.get(t, self._unknown_idf) for t in q)
        best: dict[tuple[str, int], Hit] = {}
        for doc, self_score in zip(self._docs, self._self, strict=True):
            shared = q.keys() & doc.terms.keys()
            if not shared or self_score <= 0:
                continue
            key = (doc.kind, doc.index)
            doc_cov = min(1.0, self._bm25(q, doc.terms) / self_score)
            doc_q = sum(self._idf.get(t, 0.0) for t in shared) / q_mass
            entry_q = sum(self._idf.get(t, 0.0) for t in q.keys() & self._entry_terms[key]) / q_mass
            score = W_DOC * doc_cov + W_ENTRY * entry_q + W_SPECIFIC * doc_q
            if key not in best or score > best[key].score:
                best[key] = Hit(doc.kind, doc.index, self._answer(doc), round(score, 4), doc.source)
        return list(best.values())

    def direct_answer(self, query: str) -> Hit | None:
        """The hit to speak verbatim, or None when the match is weak or ambiguous.

        Two close candidates are ambiguous unless they agree on every number the top one says
        ("the full service costs 89 euros" versus a price list that also says 89 euros).
        """
        hits = self.search(query, k=3)
        if not hits or hits[0].score < self.threshold:
            return None
        top = hits[0]
        for rival in hits[1:]:
            if rival.text == top.text or top.score - rival.score >= self.margin:
                continue
            if not agree(top.text, rival.text):
                return None
        return top

    def facts_for(self, query: str, k: int = 3) -> list[str]:
        """A few facts for the LLM: answers of near-miss entries first, then BM25 over facts."""
        out: list[str] = []
        for hit in self.search(query, k=2):
            if hit.score >= self.threshold * 0.5 and hit.text not in out:
                out.append(hit.text)
        q = self._query_terms(query)
        ranked = sorted(((self._bm25(q, f), i) for i, f in enumerate(self._facts)), reverse=True)
        for score, i in ranked:
            fact = self.profile.facts[i]
            if len(out) >= k or score <= 0:
                break
            if fact not in out:
                out.append(fact)
        return out[:k] or self.profile.facts[:1]

    # --- for the relevance gate (tom/conversation/grounding.py) ---------------------------
    def terms_of(self, text: str) -> list[str]:
        """The index terms of a profile text (stems, synonyms mapped onto their key word)."""
        return list(self._terms(text))

    def query_terms(self, query: str) -> list[str]:
        """The terms of a caller's question, STT slips repaired onto indexed words."""
        return list(self._query_terms(query))

    def knows(self, term: str) -> bool:
        """Whether any FAQ phrasing, service name or fact of the profile uses this term."""
        return term in self._idf

    def entry_terms(self, hit: Hit) -> set[str]:
        """The terms of a hit's whole entry: all its phrasings (or names) and its answer."""
        return set(self._entry_terms.get((hit.kind, hit.index), ()))

    @property
    def synonyms(self) -> dict[str, str]:
        """Single-word synonyms (and their stems) -> the key word they are searched as."""
        return dict(self._synonyms)

    def idf(self, term: str) -> float:
        """How telling a term is (rare in the profile = high); unknown terms weigh most."""
        return self._idf.get(term, self._unknown_idf)

    # --- internals ----------------------------------------------------------------------
    def _answer(self, doc: _Doc) -> str:
        if doc.kind == "faq":
            return self.profile.faq[doc.index].answer
        return self.profile.service_answer(self.profile.services[doc.index])

    def _add(self, kind: str, index: int, text: str) -> None:
        terms = self._terms(text)
        if terms:
            self._docs.append(_Doc(kind, index, text, terms))

    def _words(self, text: str) -> list[str]:
        """Content words with phrases and synonyms mapped onto their key word."""
        text = normalize(text)
        for pattern, repl in self._phrases:
            text = pattern.sub(repl, text)
        out = []
        for w in words(text):
            w = self._synonyms.get(w) or self._synonyms.get(stem(w)) or w
            if "-" in w and w not in self._synonyms.values():
                out += [part for part in w.split("-") if len(part) > 1 and part not in STOPWORDS]
            elif w not in STOPWORDS:
                out.append(w)
        return out

    def _terms(self, text: str) -> Counter[str]:
        return Counter(stem(w) for w in self._words(text))

    def _query_terms(self, query: str) -> Counter[str]:
        out: Counter[str] = Counter()
        joined = " ".join(self._joined(words(normalize(query[-600:]))))
        for w in self._words(joined):
            s = stem(w)
            if s not in self._idf and len(w) >= 4:
                s = self._repair(w) or s
            out[s] += 1
        return out

    def _joined(self, words: list[str]) -> list[str]:
        """Two words the profile uses as one ("work shop" -> "workshop", "fahr rad" ->
        "fahrrad"): speech recognisers split compounds that the profile writes together."""
        out: list[str] = []
        i = 0
        while i < len(words):
            if i + 1 < len(words) and (joined := words[i] + words[i + 1]) in self._surface:
                out.append(joined)
                i += 2
            else:
                out.append(words[i])
                i += 1
        return out

    def _repair(self, word: str) -> str | None:
        """Map an unknown word onto an indexed one: typo ("pakring") or compound part."""
        match = process.extractOne(word, self._surface.keys(), scorer=fuzz.ratio,
                                   score_cutoff=FUZZY_CUTOFF)
        if match:
            return self._surface[match[0]]
        inflected = [w for w in self._surface if w.startswith(word) and len(w) - len(word) <= 3]
        if inflected:  # "chef" -> "chefin", "preis" -> "preise": the same word, inflected
            return self._surface[min(inflected, key=len)]
        if len(word) >= 8:  # German compounds: "fahrradreparatur" contains "reparatur"
            parts = [w for w in self._surface if len(w) >= 6 and w in word]
            if parts:
                return self._surface[max(parts, key=len)]
        return None

    def _bm25(self, q: Counter[str], d: Counter[str]) -> float:
        dl = sum(d.values())
        score = 0.0
        for t in q.keys() & d.keys():
            tf = d[t]
            score += self._idf.get(t, 0.0) * tf * (K1 + 1) / (tf + K1 * (1 - B + B * dl / self._avgdl))
        return score


def agree(a: str, b: str) -> bool:
    """Whether answer `b` states every number of answer `a` (so saying `a` cannot mislead)."""
    keys_a = [m.keys for m in find_numbers(a)]
    keys_b = set().union(*(m.keys for m in find_numbers(b)))
    return bool(keys_a) and all(k & keys_b for k in keys_a)


def _synonym_map(profile_synonyms: dict[str, tuple[str, ...]]
                 ) -> tuple[dict[str, str], list[tuple[re.Pattern[str], str]]]:
    """Word -> key (also by stem); multi-word synonyms become phrase replacements."""
    words_map: dict[str, str] = {}
    phrases = list(PHRASES)
    for key, others in (*BUILTIN_SYNONYMS.items(), *profile_synonyms.items()):
        for w in others:
            if " " in w:
                phrases.append((re.compile(rf"\b{re.escape(w)}\b"), key))
            else:
                words_map[w] = key
                if len(stem(w)) >= 4:  # short stems collide ("offen" -> "off")
                    words_map.setdefault(stem(w), key)
    return words_map, phrases
