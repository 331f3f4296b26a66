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

from tom.conversation.text import STOPWORDS, normalize, stem, words

if TYPE_CHECKING:
    from tom.conversation.profile import Profile

# Words that mean one thing for every business, in both languages.
BUILTIN_SYNONYMS = {
    "price": ("cost", "costs", "charge", "charges", "fee", "fees", "prices", "pricing",
              "preis", "preise", "kosten", "kostet", "teuer", "verlangen", "gebühr"),
    "open": ("opening", "opened", "close", "closing", "closed", "hours", "offen", "geöffnet",
             "öffnungszeiten", "schließen", "geschlossen", "aufmachen", "auf", "zu"),
}
PHRASES = ((re.compile(r"\bhow much\b"), "price"), (re.compile(r"\bwie ?viel\b"), "preis"),
           (re.compile(r"\be (bikes?)\b"), r"e-\1"))

DIRECT_THRESHOLD = 0.6  # combined score a hit needs to be spoken without the LLM
MARGIN = 0.1  # ... and its lead over the best hit for a different answer
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
        self._synonyms = _synonym_map(profile.synonyms)
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
        for key, terms in self._entry_terms.items():
            terms.update(self._terms(self._answer(_Doc(*key, "", Counter()))))
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
        """Best FAQ/service entries for `query`, one hit per entry, best first."""
        q = self._query_terms(query)
        if not q:
            return []
        best: dict[tuple[str, int], Hit] = {}
        q_mass = sum(self._idf.get(t, self._unknown_idf) for t in q)
        for doc, self_score in zip(self._docs, self._self, strict=True):
            shared = q.keys() & doc.terms.keys()
            if not shared or self_score <= 0:
                continue
            key = (doc.kind, doc.index)
            doc_cov = min(1.0, self._bm25(q, doc.terms) / self_score)
            doc_q = sum(self._idf.get(t, 0.0) for t in shared) / q_mass
            entry_q = sum(self._idf.get(t, 0.0) for t in q.keys() & self._entry_terms[key]) / q_mass
            score = doc_cov * (0.55 + 0.25 * entry_q + 0.2 * doc_q)
            if key not in best or score > best[key].score:
                best[key] = Hit(doc.kind, doc.index, self._answer(doc), round(score, 4), doc.source)
        return sorted(best.values(), key=lambda h: -h.score)[:k]

    def direct_answer(self, query: str) -> Hit | None:
        """The hit to speak verbatim, or None when the match is weak or ambiguous."""
        hits = self.search(query, k=3)
        if not hits or hits[0].score < self.threshold:
            return None
        rival = next((h for h in hits[1:] if h.text != hits[0].text), None)
        if rival and hits[0].score - rival.score < self.margin:
            return None
        return hits[0]

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
        text = normalize(text)
        for pattern, repl in PHRASES:
            text = pattern.sub(repl, text)
        return [self._synonyms.get(w, w) for w in words(text) if w not in STOPWORDS]

    def _terms(self, text: str) -> Counter[str]:
        return Counter(stem(w) for w in self._words(text))

    def _query_terms(self, query: str) -> Counter[str]:
        out: Counter[str] = Counter()
        for w in self._words(query[:600]):
            s = stem(w)
            if s not in self._idf and len(w) >= 4:
                s = self._repair(w) or s
            out[s] += 1
        return out

    def _repair(self, word: str) -> str | None:
        """Map an unknown word onto an indexed one: typo ("pakring") or compound part."""
        match = process.extractOne(word, self._surface.keys(), scorer=fuzz.ratio,
                                   score_cutoff=FUZZY_CUTOFF)
        if match:
            return self._surface[match[0]]
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


def _synonym_map(profile_synonyms: dict[str, tuple[str, ...]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, others in (*BUILTIN_SYNONYMS.items(), *profile_synonyms.items()):
        for w in others:
            out[w] = key
    return out
