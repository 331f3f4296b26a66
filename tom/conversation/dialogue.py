"""One call's conversation at the text level: caller turns in, what to say (or what to ask the LLM) out.

The audio pipeline owns timing, audio and the LLM; the Dialogue owns meaning: intent, FAQ answers,
the message and booking flows, the prompt for the LLM, the number guard on what the LLM says,
and the history of what the caller actually heard.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from tom.conversation.flows import BookingFlow, MessageFlow, Step
from tom.conversation.guard import NumberGuard, speakable
from tom.conversation.intents import classify, yes_no
from tom.conversation.messages import MessageStore
from tom.conversation.profile import Profile
from tom.conversation.prompting import build_messages
from tom.conversation.text import normalize, words

log = structlog.get_logger(__name__)
MAX_TURN_CHARS = 2000  # longer transcripts keep their start and end (a caller reading a letter)
MAX_HISTORY = 20
FACTS_FOR_LLM = 3
MAX_LLM_SENTENCES = 3  # the prompt asks for one or two; a tiny model rambles on
_THANKS = re.compile(r"\b(thanks|thank|cheers|danke|dankeschön|merci)\b")
_OFFERS = (
    ("transfer", re.compile(r"put you through|connect you|transfer you|verbinde|verbinden")),
    ("message", re.compile(r"take a message|leave a message|nachricht (aufnehmen|hinterlassen)")),
    ("anything_else", re.compile(r"anything else|sonst noch")),
)


def _bounded(text: str) -> str:
    """Very long turns keep their first words (the request) and their end (the question)."""
    if len(text) <= MAX_TURN_CHARS:
        return text
    head = MAX_TURN_CHARS // 4
    return f"{text[:head]} … {text[-(MAX_TURN_CHARS - head):]}"


@dataclass
class Reply:
    """What TOM does with one caller turn; text and llm_messages both None means: say nothing."""

    intent: str  # question | booking | human | message | goodbye | unclear | empty | smalltalk
    text: str | None = None  # speak verbatim, no LLM
    llm_messages: list[dict[str, str]] | None = None  # else stream the LLM on these
    action: str | None = None  # None | "transfer" | "hangup", after the reply was spoken
    facts: list[str] = field(default_factory=list)  # facts given to the LLM / used in the answer
    stored: dict[str, Any] | None = None  # {"id", "kind"} when a message/appointment was committed


class Dialogue:
    """One per call: its history, its flow state, and its number guard."""

    def __init__(self, profile: Profile, store: MessageStore | None, *, call_id: str,
                 caller: str = "", language: str = "en",
                 now: Callable[[], datetime] = datetime.now) -> None:
        self.profile = profile
        self.store = store
        self.call_id = call_id
        self.caller = caller
        self.language = language
        self.history: list[dict[str, str]] = []
        self.blocked_sentences = 0
        self._now = now
        self._flow: MessageFlow | BookingFlow | None = None
        self._offer: str | None = None
        self._unclear = 0
        self._replaced = False
        self._sentences: list[str] = []
        self._guard = NumberGuard(profile.facts)
        self._log = log.bind(call_id=call_id)

    @property
    def in_flow(self) -> bool:
        """Collecting a message or booking: turns may commit to the database."""
        return self._flow is not None

    def fork(self) -> Dialogue:
        """An independent copy for a speculative turn; adopted only if the turn is confirmed.

        Profile, store and logger are shared; history, offers and the guard are copied.
        """
        keep = {id(self.profile): self.profile, id(self.store): self.store,
                id(self._log): self._log, id(self._now): self._now}
        return copy.deepcopy(self, memo=keep)

    # --- what TOM says unprompted ------------------------------------------------------------
    def greeting(self) -> str:
        return self.profile.greeting

    def reprompt(self, n: int) -> str:
        """After silence: keypad digits typed without '#' are taken now; else ask again."""
        if isinstance(self._flow, MessageFlow) and (step := self._flow.flush_dtmf()):
            return step.say
        prompts = self.profile.reprompts
        base = prompts[min(max(n, 1), len(prompts)) - 1]
        return f"{base} {self._flow.prompt()}" if self._flow else base

    def idle_farewell(self) -> str:
        return self.profile.say("prompts", "idle_farewell")

    # --- caller input -----------------------------------------------------------------------
    async def on_caller(self, text: str) -> Reply:
        """One finished caller turn (STT text) -> what to do; fast except for a DB commit."""
        self._replaced = False
        self._sentences = []
        text = _bounded(" ".join((text or "").split()))
        hits = self.profile.retriever.search(text, k=1)
        intent = classify(text, hits[0].score if hits else 0.0)
        self._log.debug("caller_turn", intent=intent.name, rule=intent.rule)
        if intent.name == "empty":
            return Reply("empty")
        self._remember("user", text)
        self._guard.allow(text)
        taking_words = isinstance(self._flow, MessageFlow) and self._flow.state in ("name", "text")
        if intent.name == "human" and not taking_words:
            return self._transfer()
        if self._flow:
            return await self._flow_turn(text, intent.name)
        if self._offer and (reply := self._answer_offer(text, intent.name)):
            return reply
        self._offer = None
        self._unclear = self._unclear + 1 if intent.name == "unclear" else 0
        return self._dispatch(text, intent.name)

    async def on_dtmf(self, digits: str) -> Reply:
        """Keypad: digits while TOM asks for a number are the number; otherwise 0 = a person."""
        flow = self._flow
        if isinstance(flow, MessageFlow) and flow.state in ("number", "confirm"):
            step = flow.on_dtmf(digits)
            return await self._apply(step, "message") if step else Reply("message")
        if "0" in digits:
            return self._transfer()
        return Reply("empty")

    # --- LLM output and what was heard ----------------------------------------------------
    @property
    def reply_done(self) -> bool:
        """True once the LLM reply has said enough: the pipeline may stop generating."""
        return len(self._sentences) >= MAX_LLM_SENTENCES or self._replaced

    def check_sentence(self, sentence: str) -> str | None:
        """The sentence, a safe replacement (once per turn), or None to drop it.

        Also drops markdown, repeated sentences and anything after MAX_LLM_SENTENCES.
        """
        clean = speakable(sentence)
        key = " ".join(words(normalize(clean)))
        if not key or self.reply_done or key in self._sentences:
            return None
        invented = self._guard.invented(clean)
        if not invented:
            self._sentences.append(key)
            return clean
        self.blocked_sentences += 1
        self._log.warning("number_guard_blocked", sentence=clean,
                          numbers=[m.text for m in invented])
        self._replaced = True  # reply_done from here: the rest of this reply is dropped
        self._offer = "either"
        return self.profile.say("prompts", "unsure")

    def fallback(self) -> str:
        """Said when the LLM gave nothing speakable (all dropped, or silent): offer help instead."""
        self._offer = "either"
        return self.profile.say("prompts", "unsure")

    def on_assistant(self, text_heard: str, interrupted: bool) -> None:
        """Record what the caller heard; an offer counts only if it was heard."""
        text = " ".join((text_heard or "").split())
        if not text:
            return
        self._remember("assistant", text + (" …" if interrupted else ""))
        if self._flow:
            return
        low = text.lower()
        offers = [name for name, rx in _OFFERS if rx.search(low)]
        if "transfer" in offers and "message" in offers:
            self._offer = "either"
        else:
            self._offer = offers[0] if offers else None

    # --- internals ----------------------------------------------------------------------
    def _dispatch(self, text: str, intent: str) -> Reply:
        p = self.profile
        if intent == "booking":
            self._flow = BookingFlow(p, today=self._now().date())
            return Reply("booking", text=self._flow.start(text))
        if intent == "message":
            return self._start_message(text, p.say("message", "intro"))
        if intent == "goodbye":
            return Reply("goodbye", text=p.farewell, action="hangup")
        if intent == "smalltalk":
            return self._smalltalk(text)
        if intent == "unclear":
            if self._unclear >= 2:
                self._offer = "transfer"
                return Reply("unclear", text=p.say("prompts", "clarify_again"))
            return Reply("unclear", text=p.say("prompts", "clarify"))
        return self._question(text)

    def _question(self, text: str) -> Reply:
        hit = self.profile.retriever.direct_answer(text)
        if hit:
            return Reply("question", text=hit.text, facts=[hit.text])
        facts = self.profile.retriever.facts_for(text, k=FACTS_FOR_LLM)
        return Reply("question", llm_messages=build_messages(self.profile, facts, self.history),
                     facts=facts)

    def _smalltalk(self, text: str) -> Reply:
        p = self.profile
        if _THANKS.search(normalize(text)):
            self._offer = "anything_else"
            return Reply("smalltalk", text=p.say("prompts", "welcome"))
        if yes_no(text) is False:
            self._offer = "anything_else"
            return Reply("smalltalk", text=p.say("prompts", "anything_else"))
        return Reply("smalltalk", text=p.say("prompts", "hello"))

    def _answer_offer(self, text: str, intent: str) -> Reply | None:
        """A bare yes/no answers TOM's last offer; anything else is a new request."""
        offer, self._offer = self._offer, None
        if intent not in ("smalltalk", "unclear", "question") or len(text.split()) > 6:
            return None
        answer = yes_no(text)
        if answer is None:
            return None
        if offer == "anything_else":
            if answer:
                return Reply("smalltalk", text=self.profile.say("prompts", "hello"))
            return Reply("goodbye", text=self.profile.farewell, action="hangup")
        if not answer:
            return Reply("smalltalk", text=self.profile.say("prompts", "declined"))
        if offer == "message" or (offer == "either" and not self._can_transfer()):
            return self._start_message("", "")
        return self._transfer()

    async def _flow_turn(self, text: str, intent: str) -> Reply:
        flow = self._flow
        assert flow is not None
        kind = "message" if isinstance(flow, MessageFlow) else "booking"
        if intent == "goodbye" and len(text.split()) <= 4 and flow.state != "text":
            self._flow = None
            return Reply("goodbye", text=self.profile.farewell, action="hangup")
        if isinstance(flow, BookingFlow) and flow.state in ("day", "time") and intent == "question" \
                and not flow.understands(text):
            hit = self.profile.retriever.direct_answer(text)
            if hit:  # "when are you open?" while choosing a day
                return Reply("question", text=f"{hit.text} {flow.prompt()}", facts=[hit.text])
        return await self._apply(flow.on_text(text), kind)

    async def _apply(self, step: Step, kind: str) -> Reply:
        """Store what the flow collected (committed first), then say the flow's words."""
        stored = None
        if step.finished:
            self._flow = None
        if step.record:
            try:
                stored = {"id": await self._store(step.record), "kind": step.record["kind"]}
            except Exception as exc:  # the caller must not be told "noted" if it was not
                self._log.error("message_store_failed", error=str(exc))
                return self._store_failed()
        return Reply(kind, text=step.say, stored=stored)

    async def _store(self, record: dict[str, Any]) -> int | None:
        if self.store is None:
            self._log.warning("message_not_stored", reason="no store", kind=record["kind"])
            return None
        if record["kind"] == "message":
            return await self.store.add_message(self.call_id, self.caller, record["name"],
                                                record["callback_number"], record["text"])
        return await self.store.add_appointment(self.call_id, self.caller, record["name"],
                                                record["day"], record["time"], record["note"])

    def _store_failed(self) -> Reply:
        p = self.profile
        if self._can_transfer():
            return Reply("human", text=p.transfer_message, action="transfer")
        return Reply("unclear", text=p.say("prompts", "unsure"))

    def _start_message(self, text: str, intro: str) -> Reply:
        self._flow = MessageFlow(self.profile, caller=self.caller)
        prompt = self._flow.start(text)
        return Reply("message", text=f"{intro} {prompt}".strip())

    def _transfer(self) -> Reply:
        p = self.profile
        if self._can_transfer():
            self._flow = None
            return Reply("human", text=p.transfer_message, action="transfer")
        reply = self._start_message("", p.say("transfer", "unavailable"))
        return Reply("human", text=reply.text)

    def _can_transfer(self) -> bool:
        p = self.profile
        if not p.transfer_number:
            return False
        if not p.transfer_only_during_hours:
            return True
        now = self._now()
        return p.is_open(now.weekday(), now.hour * 60 + now.minute)

    def _remember(self, role: str, content: str) -> None:
        self.history.append({"role": role, "content": content})
        del self.history[:-MAX_HISTORY]

    # --- the caller's language (issue 15) ---------------------------------------------------
    def use_language(self, profile: Profile, language: str) -> None:
        """Go on in another language: its profile (texts, facts, retrieval) and number guard.

        The caller's numbers stay allowed; a message or booking being taken goes on with the
        new language's questions. History stays as it was said.
        """
        if profile is self.profile:
            return
        self.profile = profile
        self.language = language
        guard = NumberGuard(profile.facts)
        for turn in self.history:
            if turn["role"] == "user":
                guard.allow(turn["content"])
        self._guard = guard
        if self._flow is not None:
            self._flow.profile = profile
