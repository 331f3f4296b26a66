"""The reply pipeline: caller audio -> STT -> dialogue -> FAQ text or LLM -> sentences -> voice.

`Responder` holds TOM's side of the conversation (the call's dialogue and its turn count) and
runs the body of every `Speech`: an answer to a caller turn, a keypad reply, the greeting, a
re-prompt, a goodbye. Nothing of a speculative speech becomes public before `_go_ahead`, which
waits for its authorisation and then announces, once each, what it has decided so far.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from tom.call.backchannel import taken_back
from tom.call.engines import CallEngines
from tom.call.speech import Speech
from tom.call.voice import Voice
from tom.conversation.dialogue import Dialogue, Reply
from tom.conversation.lang import foreign_reply
from tom.engine.llm import LLMError, Messages, StreamTiming
from tom.engine.samples import Samples
from tom.engine.sentences import SentenceChunker, sentences_of
from tom.engine.stt import Transcript
from tom.engine.workers import Timed, urgent
from tom.flow import CallFlow
from tom.monitor import events as ev

log = structlog.get_logger(__name__)

EndCall = Callable[[ev.Outcome, str], Awaitable[None]]


class Responder:
    """TOM's side of one call's conversation, and the pipeline from a caller turn to speech."""

    def __init__(self, call_id: str, engines: CallEngines, dialogue: Dialogue, voice: Voice,
                 flow: CallFlow, end: EndCall) -> None:
        self.call_id = call_id
        self.engines = engines
        self.bus = engines.bus
        self.dialogue = dialogue  # the call's; a speculative answer works on a fork of it
        self.turn = 0  # the current turn number (0: before the caller's first turn)
        self.voice = voice
        if engines.multilingual:  # each language speaks with its own voice
            voice.by_language = {code: spoken.synthesize
                                 for code, spoken in engines.languages.items()}
        self.flow = flow
        self.end = end
        self.log = log.bind(call_id=call_id)

    # --- speech bodies ----------------------------------------------------------------------

    async def transcribe(self, audio: Samples, dialogue: Dialogue) -> Timed[Transcript]:
        """The caller's words: on a multilingual TOM in the caller's language so far (None,
        i.e. identified, before they spoke)."""
        if self.engines.multilingual:
            spoke = any(turn["role"] == "user" for turn in dialogue.history)
            return await self.engines.transcribe(audio,
                                                 dialogue.profile.language if spoke else None)
        return await self.engines.transcribe(audio)

    async def caller_turn(self, speech: Speech) -> bool:
        """Answer the caller's audio; False when it held no words (the caller may go on)."""
        assert speech.audio is not None
        timed = None
        if speech.words is not None:  # transcribed at the pause already: not a second time
            timed = await asyncio.shield(speech.words)
        if timed is None or timed.value.taken_for_noise:
            # What Whisper took for noise at the pause, which ends on little silence, may be
            # words in the whole turn: "Peter Müller." was "p-tammula" there, the name here.
            with urgent(speech.urgency):  # a caller is waiting, unless it is speculative
                timed = await self.transcribe(speech.audio, speech.dialogue)
        speech.mark("stt_queued", timed.submitted_ns)
        speech.mark("stt_start", timed.started_ns)
        speech.mark("stt_done", timed.done_ns)
        transcript = timed.value
        if not transcript.has_words:
            await self._go_ahead(speech)
            self.log.debug("no words in this turn", text=transcript.text,
                           nsp=transcript.no_speech_prob)
            self.flow.listen()
            return False
        speech.caller_words = transcript.text.strip()
        if speech.joins is not None and (anew := taken_back(speech.caller_words)) is not None:
            # Joined across a pause, but what came after it takes the first part back: the
            # correction is the turn, and the first part's line stands as it was.
            self.log.info("caller takes back the turn before the pause", text=anew)
            speech.caller_words, speech.joins = anew, None
        if self.engines.multilingual and not self._follow_language(speech, transcript):
            await self._answer_foreign(speech)
            return True
        reply = await speech.dialogue.on_caller(speech.caller_words)
        await self.respond(speech, reply)
        return True

    def _follow_language(self, speech: Speech, transcript: Transcript) -> bool:
        """Continue in the caller's language; False when TOM does not speak it."""
        languages = self.engines.languages
        code, dialogue = transcript.language, speech.dialogue
        current = dialogue.profile.language
        if code not in languages:
            self.log.info("caller language not spoken", language=code,
                          probability=round(transcript.language_prob, 2))
            return False
        if code != current:  # the STT keeps the call's language unless it is sure of another
            self.log.info("caller language", language=code, previous=current,
                          probability=round(transcript.language_prob, 2))
            dialogue.use_language(languages[code].profile, code)
        return True

    async def _answer_foreign(self, speech: Speech) -> None:
        """A language TOM does not speak: one polite sentence in each of TOM's languages, each
        in its own voice, offering to take a message (a "yes" then starts one)."""
        speech.intent = "unclear"
        speech.starts_speaking = True
        for code, text in foreign_reply(list(self.engines.languages)):
            for sentence in sentences_of(text):
                speech.mark("first_sentence", self.engines.clock.now_ns())
                segment = await self.voice.prepare(sentence, speech, language=code)
                await self._go_ahead(speech)
                self.voice.play(segment)
        await self._go_ahead(speech)
        await self._played_out()
        self.flow.listen()

    async def respond(self, speech: Speech, reply: Reply) -> None:
        """Say what the dialogue decided, then hang up, hand over or listen again."""
        speech.intent = reply.intent
        speech.stored = reply.stored
        speech.starts_speaking = True
        if reply.text:
            await self._speak_text(reply.text, speech)
        elif reply.llm_messages:
            await self._speak_llm(reply.llm_messages, speech)
            if reply.then:  # the question of the flow the caller's side question interrupted
                await self._speak_text(reply.then, speech)
        await self._go_ahead(speech)
        await self._played_out()
        if reply.action == "transfer":
            self.flow.transfer()
            self.voice.hang_up("transfer", "caller asked for a person")
            await self.end(ev.Outcome.TRANSFERRED, "caller asked for a person")
        elif reply.action:
            self.voice.hang_up("hangup", "conversation finished")
            await self.end(ev.Outcome.COMPLETED, "conversation finished")
        else:
            self.flow.listen()

    async def unprompted(self, speech: Speech, text: str) -> None:
        """The greeting and re-prompts: TOM speaks without a caller turn before it."""
        await self._speak_text(text, speech)
        await self._played_out()
        self.flow.listen()

    async def goodbye(self, speech: Speech, text: str, outcome: ev.Outcome, reason: str) -> None:
        """Say `text`, then hang up (time limits, a silent caller, server shutdown)."""
        self.flow.reply()
        await self._say(text, speech)
        await self._played_out()
        self.voice.hang_up("hangup", reason)
        await self.end(outcome, reason)

    # --- what the caller heard --------------------------------------------------------------

    def heard(self, text: str, *, interrupted: bool) -> None:
        """Record what the caller heard of TOM (the dialogue's history, the transcript)."""
        self.dialogue.on_assistant(text, interrupted)
        self.bus.publish(ev.Transcript(call_id=self.call_id, role=ev.Role.ASSISTANT, text=text,
                                       turn=self.turn, interrupted=interrupted))

    async def _played_out(self) -> None:
        heard = await self.voice.played_out()
        if heard:
            self.heard(heard, interrupted=False)

    # --- the pipeline -----------------------------------------------------------------------

    async def _go_ahead(self, speech: Speech) -> None:
        """Wait until the speech may be public, then announce what it decided so far."""
        await speech.wait_authorized()
        if speech.dialogue is not self.dialogue:  # a speculative answer was confirmed
            self.dialogue = speech.dialogue
        if speech.caller_words is not None:
            speech.answered = True  # announced: joined to the next only if the caller goes on
            self.bus.publish(ev.Transcript(call_id=self.call_id, role=ev.Role.CALLER,
                                           text=speech.caller_words, turn=speech.number,
                                           joins=speech.joins))
            speech.caller_words = None
        if speech.stored is not None:
            self.bus.publish(ev.MessageTaken(call_id=self.call_id, id=speech.stored.get("id"),
                                             kind=str(speech.stored.get("kind", ""))))
            speech.stored = None
        if speech.starts_speaking:
            speech.starts_speaking = False
            self.flow.reply()

    async def _speak_text(self, text: str, speech: Speech) -> None:
        for sentence in sentences_of(text):  # the first clause alone is synthesised sooner
            await self._say(sentence, speech)

    async def _speak_llm(self, messages: Messages, speech: Speech) -> None:
        chunker = SentenceChunker()
        spoken = 0
        timing = StreamTiming()
        queued = self.engines.clock.now_ns()
        try:
            stream = self.engines.chat.stream(messages, timing=timing)
            # the model's request is queued at the first piece, with the urgency of that moment
            with urgent(speech.urgency):
                async with contextlib.aclosing(stream) as pieces:
                    async for piece in pieces:
                        self._mark_llm_start(speech, timing, queued)
                        speech.mark("llm_first_token", self.engines.clock.now_ns())
                        for sentence in chunker.feed(piece):
                            spoken += await self._say_checked(sentence, speech)
                        if speech.dialogue.reply_done:  # enough said: stop generating now
                            break
        except LLMError as exc:  # the caller hears an offer to help otherwise, not silence
            self.log.error("llm failed", error=str(exc))
            self.bus.publish(ev.CallError(call_id=self.call_id, kind="llm", message=str(exc)))
        self._mark_llm_start(speech, timing, queued)
        for sentence in chunker.flush():
            spoken += await self._say_checked(sentence, speech)
        if not spoken:
            await self._say(speech.dialogue.fallback(), speech)

    @staticmethod
    def _mark_llm_start(speech: Speech, timing: StreamTiming, queued_ns: int) -> None:
        if timing.started_ns is None:  # no worker of ours (HTTP): no queue wait to report
            speech.mark("llm_start", queued_ns)
        else:
            speech.mark("llm_queued", queued_ns)
            speech.mark("llm_start", timing.started_ns)

    async def _say_checked(self, sentence: str, speech: Speech) -> int:
        safe = speech.dialogue.check_sentence(sentence)
        if not safe:
            return 0
        await self._say(safe, speech)
        return 1

    async def _say(self, sentence: str, speech: Speech) -> None:
        speech.mark("first_sentence", self.engines.clock.now_ns())
        segment = await self.voice.prepare(sentence, speech)
        await self._go_ahead(speech)
        self.voice.play(segment)
