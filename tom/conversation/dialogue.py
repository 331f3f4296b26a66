"""One call's conversation at the text level: caller turns in, what to say (or what to ask the LLM) out.

The audio pipeline owns timing, audio and the LLM; the Dialogue owns meaning: intent, FAQ answers,
the flows that take requests down (flow_table.py), the prompt for the LLM, the number guard on
what the LLM says, and the history of what the caller actually heard. Inside a flow the caller
leads: a goodbye ends the call, "never mind" leaves the flow, a side question is answered and
the flow's question follows once, a caller going round in circles is let out.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from tom.conversation.flow_table import FlowKind, FlowSpec, Slot
from tom.conversation.flows import FormFlow, Step, start_flow
from tom.conversation.grounding import Decision, Ground, grounding_for
from tom.conversation.guard import NumberGuard, speakable
from tom.conversation.intents import (
    WH_WORDS,
    Intent,
    asks_to_repeat,
    classify,
    confirmation,
    goodbye_in_flow,
    offer_answer,
    request_kind,
    thanks,
    without_goodbye,
    yes_no,
)
from tom.conversation.messages import MessageStore
from tom.conversation.profile import Profile
from tom.conversation.prompting import build_messages
from tom.conversation.text import normalize, words

log = structlog.get_logger(__name__)
MAX_TURN_CHARS = 2000  # longer transcripts keep their start and end (a caller reading a letter)
MAX_HISTORY = 20
MAX_LLM_SENTENCES = 3  # the prompt asks for one or two; a tiny model rambles on
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
    then: str | None = None  # said after the LLM's answer: the question of the flow it interrupted


class Dialogue:
    """One per call: its history, its flow state, and its number guard."""

    rephrase: bool = False  # let the LLM rephrase the one fact the gate found (else verbatim)
    _fact: str | None = None  # the fact this turn's LLM answer rests on (its fallback)

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
        self._flow: FormFlow | None = None
        self._leaving: dict[str, Any] | None = None  # a goodbye's offer to keep this record
        self._resumed = False  # the flow's question followed a side answer since the last progress
        self._offer: str | None = None
        self._unclear = 0
        self._replaced = False
        self._sentences: list[str] = []
        self._guard = NumberGuard(profile.facts)
        self._log = log.bind(call_id=call_id)

    @property
    def in_flow(self) -> bool:
        """Collecting a request: turns may commit to the database."""
        return self._flow is not None or self._leaving is not None

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
        if self._flow and (step := self._flow.flush_dtmf()):
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
        if self._leaving is not None:
            return await self._answer_leaving(text)
        taking_words = self._flow is not None and self._flow.taking_words
        if intent.name == "human" and not taking_words:
            return self._transfer()
        if self._flow:
            return await self._flow_turn(text, intent)
        if spec := self.profile.request_for(text):  # a request the business declared
            self._offer = None
            intro = self.profile.say(spec.section, "intro") \
                if self.profile.has_text(spec.section, "intro") else ""
            return await self._start_flow(spec, text, intro)
        if self._offer and (reply := self._answer_offer(text, intent.name)):
            return reply
        self._offer = None
        self._unclear = self._unclear + 1 if intent.name == "unclear" else 0
        return await self._dispatch(text, intent.name)

    async def on_dtmf(self, digits: str) -> Reply:
        """Keypad: digits while TOM asks for a number are the number; otherwise 0 = a person."""
        flow = self._flow
        if flow and flow.state in (Slot.NUMBER, "confirm_number"):
            step = flow.on_dtmf(digits)
            return await self._apply(step, flow.spec.intent) if step else Reply(flow.spec.intent)
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

        A sentence passes when the number guard and the claim checker find nothing the profile
        does not back (tom/conversation/claims.py). The first one that fails ends the reply: if
        nothing was said yet, the fact the turn rests on (or the honest offer) is said instead.
        Also drops markdown, repeated sentences and anything after MAX_LLM_SENTENCES.
        """
        clean = speakable(sentence)
        key = " ".join(words(normalize(clean)))
        if not key or self.reply_done or key in self._sentences:
            return None
        checker = grounding_for(self.profile)[1]
        if self._fact and (not checker.says_something(clean) or clean.endswith("?")):
            return None  # a rewording of a fact: no filler ("Das ist die wie,"), no echo
        invented = [m.text for m in self._guard.invented(clean)]
        claims = checker.unsupported(clean, caller=self._caller_turn())
        if self._fact:  # a rewording of one fact states that fact's numbers, no others
            claims += checker.numbers_beyond(clean, [self._fact], caller=self._caller_turn())
        if not invented and not claims:
            self._sentences.append(key)
            return clean
        self.blocked_sentences += 1
        self._log.warning("claim_checker_blocked" if not invented else "number_guard_blocked",
                          sentence=clean, numbers=invented, claims=[str(c) for c in claims])
        self._replaced = True  # reply_done from here: the rest of this reply is dropped
        return None if self._sentences else self._grounded_fallback()

    def fallback(self) -> str:
        """Said when the LLM gave nothing speakable (all dropped, or silent): the fact or an offer."""
        return self._grounded_fallback()

    def _grounded_fallback(self) -> str:
        """The fact this turn's question rests on, else the honest "not sure" with its offer."""
        if self._fact:
            return self._fact
        self._offer = "either"
        return self.profile.say("prompts", "unsure")

    def _caller_turn(self) -> str:
        return next((m["content"] for m in reversed(self.history) if m["role"] == "user"), "")

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
    async def _dispatch(self, text: str, intent: str) -> Reply:
        p = self.profile
        if intent == "booking":
            return await self._start_flow(FlowKind(request_kind(text, intent)), text, "")
        if intent == "message":
            kind = FlowKind(request_kind(text, intent))
            intro = p.say(kind.value, "intro") if p.has_text(kind.value, "intro") else ""
            return await self._start_flow(kind, text, intro)
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
        """A question: a direct FAQ answer, one fact said verbatim, or the honest offer.

        The relevance gate (tom/conversation/grounding.py) decides; the LLM only rephrases a
        fact the gate found, and only when `rephrase` is on. No fact, no free generation.
        """
        grounder, _ = grounding_for(self.profile)
        self._fact = None
        if special := grounder.special(text):
            return self._grounded(special)
        hit = self.profile.retriever.direct_answer(text)
        if hit and not grounder.outweighs(text, hit):
            return Reply("question", text=hit.text, facts=[hit.text])
        decision = grounder.decide(text)
        if decision.ground is Ground.FACT and self.rephrase:
            self._fact = decision.text
            return Reply("question", facts=[decision.text], llm_messages=build_messages(
                self.profile, [decision.text], self.history[-1:]))
        return self._grounded(decision)

    def _grounded(self, decision: Decision) -> Reply:
        """Say the gate's grounded text; an offer in it makes a following "yes" take it."""
        self._log.info("grounded_reply", ground=decision.ground.value, reason=decision.reason,
                       unknown=list(decision.unknown), coverage=decision.coverage)
        if decision.offer:
            self._offer = "either"
        intent = "smalltalk" if decision.ground is Ground.SMALLTALK else "question"
        return Reply(intent, text=decision.text, facts=list(decision.facts))

    def _smalltalk(self, text: str) -> Reply:
        p = self.profile
        if thanks(text):
            self._offer = "anything_else"
            return Reply("smalltalk", text=p.say("prompts", "welcome"))
        if yes_no(text) is False:
            self._offer = "anything_else"
            return Reply("smalltalk", text=p.say("prompts", "anything_else"))
        if special := grounding_for(p)[0].special(text):  # "how are you", "who is this"
            return self._grounded(special)
        return Reply("smalltalk", text=p.say("prompts", "hello"))

    def _answer_offer(self, text: str, intent: str) -> Reply | None:
        """A bare yes/no answers TOM's last offer; anything else is a new request."""
        offer, self._offer = self._offer, None
        if intent not in ("smalltalk", "unclear", "question") or len(text.split()) > 6:
            return None
        answer = offer_answer(text)
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

    async def _flow_turn(self, text: str, intent: Intent) -> Reply:
        """A turn inside a flow: the caller leads (goodbye, side question), else the flow."""
        flow = self._flow
        assert flow is not None
        if goodbye_in_flow(text, only_goodbye=flow.state == Slot.TEXT):
            return await self._goodbye_in_flow(flow, text)
        if asks_to_repeat(text) and flow.state != Slot.TEXT:  # "sorry, what was that?"
            return Reply(flow.spec.intent, text=flow.prompt())
        if intent.name == "question" and flow.state != Slot.TEXT \
                and (intent.rule in WH_WORDS or (flow.state == Slot.NAME and intent.rule not in
                                                 ("faq match", "statement"))) \
                and self.profile.retriever.direct_answer(text):
            return self._aside(text, flow)  # "when are you open on Saturday?" is no answer
        step = flow.on_text(text)
        if not step.understood:
            if intent.name == "question" and flow.state != Slot.TEXT:
                return self._aside(text, flow)
            step = Step(flow.again())
        else:
            self._resumed = False
        if not step.finished and flow.over_asked():
            return await self._give_up(flow)
        return await self._apply(step, flow.spec.intent)

    def _aside(self, text: str, flow: FormFlow) -> Reply:
        """Answer a side question; the flow's question follows once, not after every answer."""
        reply = self._question(text)
        resume = "" if self._resumed else flow.resume()
        self._resumed = True
        if resume and reply.text:
            reply.text = f"{reply.text} {resume}"
        elif resume:
            reply.then = resume
        return reply

    async def _goodbye_in_flow(self, flow: FormFlow, text: str) -> Reply:
        """Goodbye ends the call, whatever the flow was asking; what the turn still answers
        ("yes, that's right, bye") is taken, and what was collected is kept (profile.on_goodbye)."""
        p = self.profile
        rest = without_goodbye(text)
        answer, leftover = confirmation(rest)
        if flow.state == Slot.NAME and answer is not None and not leftover:
            rest = ""  # "okay, bye" gives no name
        if flow.state != Slot.TEXT and rest:
            step = flow.on_text(rest)
            if step.understood and step.finished:
                self._flow = None
                if step.record is None:  # "never mind, bye"
                    return Reply("goodbye", text=p.farewell, action="hangup")
                stored = await self._store_safely(step.record)
                if stored:
                    return Reply("goodbye", text=f"{step.say} {p.farewell}", action="hangup",
                                 stored=stored)
        self._flow = None
        record = flow.partial_record() if p.on_goodbye != "drop" else None
        if record is None:
            return Reply("goodbye", text=p.farewell, action="hangup")
        if p.on_goodbye == "offer":
            self._leaving = record
            return Reply("goodbye", text=p.say("flow", "goodbye_offer"))
        stored = await self._store_safely(record)
        text = p.say("flow", "goodbye_kept") if stored else p.farewell
        return Reply("goodbye", text=text, action="hangup", stored=stored)

    async def _answer_leaving(self, text: str) -> Reply:
        """The answer to "shall I pass on what you've told me?": the call ends either way."""
        record, self._leaving = self._leaving, None
        p = self.profile
        if record is not None and yes_no(text) is True:
            stored = await self._store_safely(record)
            if stored:
                return Reply("goodbye", text=p.say("flow", "goodbye_kept"), action="hangup",
                             stored=stored)
        return Reply("goodbye", text=p.farewell, action="hangup")

    async def _give_up(self, flow: FormFlow) -> Reply:
        """The same question went unanswered too often: stop asking, keep what was said."""
        self._flow = None
        p = self.profile
        self._log.info("flow_given_up", flow=flow.kind.value, state=flow.state)
        record = flow.partial_record()
        stored = await self._store_safely(record) if record else None
        if stored:
            return Reply(flow.spec.intent, text=p.say("flow", "gave_up"), stored=stored)
        self._offer = "either"
        return Reply(flow.spec.intent, text=p.say("flow", "gave_up_empty"))

    async def _store_safely(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """Store `record`; None (logged) when the store failed, so nothing claims it was kept."""
        try:
            return {"id": await self._store(record), "kind": record["kind"]}
        except Exception as exc:
            self._log.error("message_store_failed", error=str(exc))
            return None

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
        if record["kind"] == "appointment":
            return await self.store.add_appointment(self.call_id, self.caller, record["name"],
                                                    record["day"], record["time"], record["text"])
        return await self.store.add_request(record["kind"], self.call_id, self.caller,
                                            name=record["name"], day=record["day"],
                                            time=record["time"], text=record["text"],
                                            callback_number=record["callback_number"])

    def _store_failed(self) -> Reply:
        p = self.profile
        if self._can_transfer():
            return Reply("human", text=p.transfer_message, action="transfer")
        return Reply("unclear", text=p.say("prompts", "unsure"))

    def _start_message(self, text: str, intro: str) -> Reply:
        """A message flow (an offer taken, nobody to transfer to); it never stores at once."""
        self._flow, step = start_flow(self.profile, FlowKind.MESSAGE, text,
                                      today=self._now().date(), caller=self.caller)
        self._resumed = False
        return Reply("message", text=f"{intro} {step.say}".strip())

    async def _start_flow(self, kind: FlowKind | FlowSpec, text: str, intro: str) -> Reply:
        """A new request; one that already gave everything is confirmed or stored at once."""
        self._flow, step = start_flow(self.profile, kind, text, today=self._now().date(),
                                      caller=self.caller)
        self._resumed = False
        reply = await self._apply(step, self._flow.spec.intent)
        if reply.text and intro:
            reply.text = f"{intro} {reply.text}"
        return reply

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
