"""The bench's scripted callers: what each says, in which language, and what TOM should do.

Loaded from `corpus.toml` beside this module (or any file with the same shape) and checked as
a whole, so a typo in a turn id fails before the first call is placed.
"""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_CORPUS = Path(__file__).resolve().parent / "corpus.toml"
INTENTS = ("question", "booking", "human", "message", "goodbye", "smalltalk")
LANGUAGES = ("en", "de")
ENDING_INTENTS = ("goodbye", "human")  # after these TOM may hang up or transfer


class CorpusError(ValueError):
    """The corpus file is wrong; the message names the entry and the problem."""


@dataclass(frozen=True, slots=True)
class CorpusTurn:
    """One scripted caller utterance."""

    id: str
    text: str
    language: str
    intent: str
    facts: tuple[str, ...] = ()
    ends_call: bool = False  # TOM may hang up or transfer after it, whatever its intent

    @property
    def may_end_call(self) -> bool:
        return self.ends_call or self.intent in ENDING_INTENTS


@dataclass(frozen=True, slots=True)
class CallScript:
    """A scripted call: turns in order, some of which interrupt TOM."""

    id: str
    language: str
    turns: tuple[CorpusTurn, ...]
    barge_in: frozenset[str] = frozenset()
    barge_in_after_ms: int = 700


@dataclass(frozen=True, slots=True)
class Corpus:
    turns: dict[str, CorpusTurn]
    calls: tuple[CallScript, ...] = field(default=())

    def calls_for(self, language: str) -> list[CallScript]:
        """Scripts of one language, or all of them for "all"."""
        return [c for c in self.calls if language in ("all", c.language)]

    def schedule(self, n: int, language: str = "all") -> list[CallScript]:
        """n calls cycling through the scripts, so every script runs before any repeats."""
        scripts = self.calls_for(language)
        if not scripts:
            raise CorpusError(f"the corpus has no calls for language {language!r}")
        return list(itertools.islice(itertools.cycle(scripts), n))


def load_corpus(path: str | Path | None = None) -> Corpus:
    """Read and validate a corpus TOML file (default: the bundled corpus.toml)."""
    file = Path(path) if path else DEFAULT_CORPUS
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorpusError(f"corpus file {file} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"corpus file {file} is not valid UTF-8 TOML: {exc}") from None
    turns = dict(_turns(_tables(raw, "turns")))
    calls = tuple(_calls(_tables(raw, "calls"), turns))
    if not calls:
        raise CorpusError(f"corpus file {file} has no [[calls]]")
    return Corpus(turns, calls)


def _tables(raw: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """`[[key]]` entries of the file; a plain `key = ...` value is a mistake the file names."""
    entries = raw.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise CorpusError(f"'{key}' must be [[{key}]] tables, not {type(entries).__name__} "
                          f"{str(entries)[:60]}")
    return entries


def _turns(entries: list[dict[str, Any]]) -> Iterator[tuple[str, CorpusTurn]]:
    seen: set[str] = set()
    for n, entry in enumerate(entries, start=1):
        tid = entry.get("id")
        if not isinstance(tid, str) or not tid:
            raise CorpusError(f"turn #{n} has no id")
        if tid in seen:
            raise CorpusError(f"turn id {tid!r} is used twice")
        seen.add(tid)
        text, lang, intent = entry.get("text"), entry.get("lang", "en"), entry.get("intent")
        if not isinstance(text, str) or not text.strip():
            raise CorpusError(f"turn {tid!r} has no text")
        if lang not in LANGUAGES:
            raise CorpusError(f"turn {tid!r}: lang {lang!r} is not one of {', '.join(LANGUAGES)}")
        if intent not in INTENTS:
            raise CorpusError(f"turn {tid!r}: intent {intent!r} is not one of {', '.join(INTENTS)}")
        facts = entry.get("facts", [])
        if not isinstance(facts, list) or not all(isinstance(f, str) for f in facts):
            raise CorpusError(f"turn {tid!r}: facts must be a list of strings")
        yield tid, CorpusTurn(tid, text.strip(), lang, intent, tuple(facts))


def _calls(entries: list[dict[str, Any]], turns: dict[str, CorpusTurn]) -> Iterator[CallScript]:
    seen: set[str] = set()
    for n, entry in enumerate(entries, start=1):
        cid = entry.get("id") or f"call-{n}"
        if cid in seen:
            raise CorpusError(f"call id {cid!r} is used twice")
        seen.add(cid)
        ids = entry.get("turns", [])
        if not ids:
            raise CorpusError(f"call {cid!r} has no turns")
        if not isinstance(ids, list) or not all(isinstance(t, str) for t in ids):
            raise CorpusError(f"call {cid!r}: turns must be a list of turn ids")
        missing = [t for t in ids if t not in turns]
        if missing:
            raise CorpusError(f"call {cid!r} names unknown turns: {', '.join(missing)}")
        langs = {turns[t].language for t in ids}
        if len(langs) > 1:
            raise CorpusError(f"call {cid!r} mixes languages {sorted(langs)}; use one per call")
        barge = frozenset(entry.get("barge_in", []))
        if not barge <= set(ids):
            raise CorpusError(f"call {cid!r}: barge_in names turns not in the call: "
                              f"{', '.join(sorted(barge - set(ids)))}")
        after = entry.get("barge_in_after_ms", 700)
        if not isinstance(after, int) or not 0 <= after <= 30000:
            raise CorpusError(f"call {cid!r}: barge_in_after_ms must be 0..30000, got {after!r}")
        yield CallScript(cid, langs.pop(), tuple(turns[t] for t in ids), barge, after)
