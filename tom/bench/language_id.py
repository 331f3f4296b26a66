"""Did TOM answer in the caller's language? The bench's language-identification rate.

TOM's answer to the caller's first turn is sorted into German or English by its function words
(TOM's texts come from its profiles, so they are plainly one or the other); the rate is the
share of calls whose first answer is in the language the caller spoke.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

GERMAN = frozenset("sie wir ich und der die das ist sind haben von bis uhr kostet gerne ihnen "
                   "nicht eine einen für unsere ihr ihre am mit wie kann".split())
ENGLISH = frozenset("you we i and the is are have from to costs our your a an for can at "
                    "it with how what".split())
TARGET = 0.95  # of calls, on the first turn


def reply_language(text: str) -> str | None:
    """ "de", "en", or None when the text gives no sign of either."""
    words = re.findall(r"[a-zäöüß]+", text.lower())
    de = sum(w in GERMAN for w in words)
    en = sum(w in ENGLISH for w in words)
    if de == en:
        return None
    return "de" if de > en else "en"


def first_answer(transcript: Iterable[dict[str, Any]]) -> str:
    """What TOM said after the caller's first turn (the greeting, turn 0, left out)."""
    for line in transcript:
        if line.get("role") == "assistant" and line.get("turn", 0) >= 1 and line.get("text"):
            return str(line["text"])
    return ""


def language_id(records: Iterable[Any]) -> dict[str, Any]:
    """{"rate", "calls", "wrong": [call ids], "target"} over calls that got an answer."""
    counted, right, wrong = 0, 0, []
    for record in records:
        answer = first_answer(record.transcript)
        said = reply_language(answer) if answer else None
        if said is None:
            continue
        counted += 1
        if said == record.script.language:
            right += 1
        else:
            wrong.append(record.result.call_sid)
    return {"rate": right / counted if counted else None, "calls": counted, "wrong": wrong,
            "target": TARGET}
