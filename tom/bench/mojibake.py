"""Finds text that was broken on its way through TOM: "Ã¼" for "ü", "â€™" for "’", U+FFFD, C1.

A German caller's "Grüße" must come back as "Grüße" in transcripts, events and logs; any of
these patterns means some layer decoded UTF-8 as Latin-1/cp1252 or cut a multi-byte character.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

REPLACEMENT = "\ufffd"


def _continuation_chars() -> str:
    """Every character a UTF-8 continuation byte (0x80-0xBF) turns into under Latin-1 or cp1252."""
    chars = set()
    for b in range(0x80, 0xC0):
        chars.add(chr(b))
        try:
            chars.add(bytes([b]).decode("cp1252"))
        except UnicodeDecodeError:
            pass
    return "".join(sorted(chars))


_CONT = _continuation_chars()
_CANDIDATE = re.compile("[\u00c2-\u00f4][" + re.escape(_CONT) + "]{1,3}")
_C1 = re.compile("[\u0080-\u009f]")


@dataclass(frozen=True, slots=True)
class MojibakeHit:
    """One broken spot: kind is "utf8_as_latin1", "replacement_char" or "c1_control"."""

    kind: str
    start: int
    text: str


def _as_byte(ch: str) -> int:
    try:
        return ch.encode("cp1252")[0]
    except UnicodeEncodeError:
        return ord(ch)  # Latin-1 (C1 range) when cp1252 has no byte for it


def _misdecoded(candidate: str) -> str | None:
    """The character the candidate was meant to be, if it is re-decodable UTF-8."""
    raw = bytes(_as_byte(c) for c in candidate)
    need = 2 if raw[0] < 0xE0 else 3 if raw[0] < 0xF0 else 4
    if len(raw) < need:
        return None
    try:
        return raw[:need].decode("utf-8")
    except UnicodeDecodeError:
        return None


def find_mojibake(text: str) -> list[MojibakeHit]:
    """Every broken spot in `text`, in order; clean text with umlauts gives an empty list."""
    hits: list[MojibakeHit] = []
    covered: set[int] = set()
    for m in _CANDIDATE.finditer(text):
        if _misdecoded(m.group(0)) is not None:
            hits.append(MojibakeHit("utf8_as_latin1", m.start(), m.group(0)))
            covered.update(range(m.start(), m.end()))
    for i, ch in enumerate(text):
        if ch == REPLACEMENT:
            hits.append(MojibakeHit("replacement_char", i, ch))
        elif _C1.match(ch) and i not in covered:
            hits.append(MojibakeHit("c1_control", i, ch))
    return sorted(hits, key=lambda h: h.start)


def count_mojibake(text: str) -> int:
    return len(find_mojibake(text))


def iter_strings(value: Any) -> Iterable[str]:
    """Every string inside nested dicts/lists/tuples (event data, JSON answers), keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from iter_strings(k)
            yield from iter_strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from iter_strings(v)
