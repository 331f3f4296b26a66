"""Caller turn-taking: what TOM does when the caller starts, pauses, resumes and stops speaking.

The VAD's `TurnDetector` calls four methods here, each a decision in plain code:

- speech starts: TOM talking is cut off (barge-in); an answer still being worked out is dropped
  and its audio joined to what the caller says now, and so is the turn TOM is answering when
  the voice began soon after it ended (the caller paused mid-sentence and goes on);
- a short pause: a speculative answer starts on a fork of the dialogue (only while no flow could
  commit something the caller then takes back);
- voice resumes: the speculative answer is dropped;
- the turn ends: the speculative answer is authorised if the caller stayed silent since its
  pause, else a new answer starts (with recent unanswered audio joined in front).

It also keeps the one current `Speech`, re-prompts a silent caller via a timer, and starts the
greeting, keypad replies and goodbyes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import numpy as np
import structlog

from tom.call.backchannel import claims_turn, is_backchannel, says_goodbye
from tom.call.clock import Cancellable
from tom.call.engines import CallEngines
from tom.call.finished import Ends, doubts_end, judge_pause, last_word_lead_s
from tom.call.reply import Responder
from tom.call.speech import Speech
from tom.call.tasks import CallTasks
from tom.call.voice import Voice
from tom.engine import smart_turn
from tom.engine.samples import Samples
from tom.engine.stt import Transcript
from tom.engine.timings import TurnTimer
from tom.engine.vad import TurnDetector, UserTurn
from tom.engine.workers import Timed, Urgency, urgent
from tom.flow import CallFlow
from tom.monitor import events as ev

log = structlog.get_logger(__name__)

PENDING_S = 2.5  # unanswered caller audio is joined to a turn that follows within this time
HOLD_POLL_S = 0.032  # while TOM is paused, how often the caller's voiced time is looked at


@dataclass
class _Hold:
    """TOM paused for caller voice that may be only a backchannel ("mhm")."""

    paused_ns: int
    voice_ns: int  # the onset of the voice TOM paused for: a barge-in's reaction counts from it
    timer: Cancellable | None = None


@dataclass(frozen=True)
class _WordsAtPause:
    """The transcript of the caller's audio up to a pause, made once for the end-of-turn check
    and the answer (`TurnTaking._words_at`)."""

    speech_end_ns: int  # the pause's last voice
    silence_s: float  # the silence the transcribed audio ends on
    task: asyncio.Future[Timed[Transcript]]


@dataclass(frozen=True)
class _Pending:
    """Caller audio not answered in full, joined in front of a turn that begins before
    `until_ns`; `turn`: the caller turn these words were already announced as, if any (the
    joined line supersedes it)."""

    audio: Samples
    until_ns: int
    turn: int | None = None


class TurnTaking:
    """The caller's side of one call, and which `Speech` of TOM's is current."""

    def __init__(self, call_id: str, engines: CallEngines, responder: Responder, voice: Voice,
                 flow: CallFlow, tasks: CallTasks) -> None:
        self.call_id = call_id
        self.settings = engines.settings
        self.bus = engines.bus
        self.clock = engines.clock
        self.engines = engines
        self.responder = responder
        self.voice = voice
        self.flow = flow
        self.tasks = tasks
        self.log = log.bind(call_id=call_id)
        turns = self.settings.turns
        self.smart = smart_turn.shared(turns.smart_turn_model) if turns.smart_turn else None
        self.detector = TurnDetector(
            engines.new_vad(), self.settings.vad, on_speech_start=self._speech_started,
            on_turn=self._turn_ended, on_resume=self._drop_speculation,
            on_pause=self._paused if self.settings.stt.speculative else None,
            clock=self.clock.now_ns, on_judge=self._judge if self.smart else None,
            judge_after_ms=turns.smart_turn_after_ms,
            unfinished_ms=turns.unfinished_silence_ms)
        self.current: Speech | None = None
        self.speculation: Speech | None = None
        self.reprompts = 0
        self._pending: _Pending | None = None
        self._silence: Cancellable | None = None
        self._hold: _Hold | None = None
        self._closed = False
        self._pause_words: _WordsAtPause | None = None

    def feed(self, samples: Samples, arrival_ns: int, heard: Samples | None = None) -> None:
        """Caller audio; `heard` is the same with TOM's echo silenced (the VAD decides on it)."""
        self.detector.feed(samples, arrival_ns, heard)

    @property
    def busy(self) -> bool:
        """The caller is speaking, or TOM is answering or talking."""
        return self.detector.speaking or self._answering or self.voice.playing

    @property
    def _answering(self) -> bool:
        return self.current is not None and self.current.running

    # --- the detector's decisions -----------------------------------------------------------

    def _speech_started(self, ts_ns: int) -> None:
        self._caller_active()
        cuts_off = False
        if self.voice.playing and self.settings.turns.hold_ms > 0 and self._hold is None:
            self._pause_tom()  # the call flow hears of the caller once it is an interruption
            return
        if self.voice.playing:
            self._join_if_going_on(self.detector.start_ns)
            self._barge_in()
            cuts_off = True
        elif self.current is not None and self.current.running:
            # Still working on the last utterance: it and this one become one turn.
            self.current.interrupt()
            if not self.current.answered:
                self._keep_pending(self.current.audio, self.current.joins)
            else:
                self._join_if_going_on(self.detector.start_ns)
            cuts_off = True
        self.flow.caller_starts(cuts_off_tom=cuts_off)

    def _barge_in(self, hold: _Hold | None = None) -> None:
        """TOM stops talking for the caller; `hold`: the pause its playback stopped at, for
        voice it waited on (by then the caller may have begun another utterance)."""
        if self.current is not None:
            self.current.interrupt()
        heard = self.voice.cut_off()
        stopped_ns, voice_ns = ((self.clock.now_ns(), self.detector.start_ns) if hold is None
                                else (hold.paused_ns, hold.voice_ns))
        reaction_ms = round((stopped_ns - voice_ns) / 1e6, 1)
        self.responder.heard(heard, interrupted=True)
        self.bus.publish(ev.BargeIn(call_id=self.call_id, turn=self.responder.turn,
                                    reaction_ms=reaction_ms, heard=heard))
        self.log.info("barge-in", heard=heard, reaction_ms=reaction_ms)

    # --- has the caller finished? ---------------------------------------------------------------

    def _judge(self, audio: Samples, token: int) -> None:
        self.tasks.spawn(self._judge_turn(audio, token, self.detector.start_ns,
                                          self.detector.last_voice_ns, self.detector.silence_s),
                         "smart-turn")

    async def _judge_turn(self, audio: Samples, token: int, start_ns: int,
                          speech_end_ns: int, silence_s: float) -> None:
        """Smart Turn in a thread (tens of ms of CPU), then the words at the pause: the turn
        ends now only when both read finished (tom/call/finished.py `judge_pause`); sound
        alone decides when the words are not to be had (no word heard, or off)."""
        smart = self.smart
        if smart is None:
            return
        started = time.perf_counter()
        probability = await asyncio.to_thread(smart.complete, audio)
        sound_at_ms = round((self.clock.now_ns() - speech_end_ns) / 1e6)  # for the log
        turns = self.settings.turns
        complete = probability >= turns.smart_turn_threshold
        self.log.debug("smart turn", complete=complete, probability=round(probability, 3),
                       ms=round((time.perf_counter() - started) * 1000, 1))
        words = self._words_at(self._joined(audio, start_ns), speech_end_ns, silence_s)
        if words is None:
            self.detector.verdict(token, complete)
            return
        if not complete:
            self.detector.verdict(token, False)
        timed = await asyncio.shield(words.task)
        heard = timed.value
        text = heard.text if heard.has_words else ""
        doubted = doubts_end(heard, words.silence_s, turns, sound_finished=complete)
        ends = judge_pause(complete, text, doubted)
        if complete or ends is Ends.NOW:  # unfinished by its sound: a farewell
            self.detector.verdict(token, ends is Ends.NOW)
        if ends is Ends.SOONER:
            self.detector.shorten(token, turns.finished_words_silence_ms)
        lead_s = last_word_lead_s(heard, words.silence_s)
        self.log.debug("end of turn judged", sound=round(probability, 3), words=text,
                       last_word_prob=round(heard.last_word.prob, 2),
                       more_words_prob=round(heard.more_words_prob, 2), doubted=doubted,
                       ends=ends.value, last_word_before_silence_ms=None if lead_s is None
                       else round(lead_s * 1000), sound_at_ms=sound_at_ms,
                       words_at_ms=round((timed.done_ns - speech_end_ns) / 1e6))

    def _words_at(self, audio: Samples, speech_end_ns: int, silence_s: float,
                  level: Urgency = Urgency.NOW) -> _WordsAtPause | None:
        """The transcript of the caller's audio up to this pause (which ends on `silence_s`
        of silence), made once for the end-of-turn check and the answer; None when the words
        rule is off, or when making it would cost an STT run other calls are waiting for."""
        turns = self.settings.turns
        if not 0 < turns.finished_words_silence_ms < turns.unfinished_silence_ms:
            return None
        made = self._pause_words
        if made is not None and made.speech_end_ns == speech_end_ns:
            return made
        if self.engines.backlog():
            return None
        with urgent(level):
            task = self.tasks.spawn(self.responder.transcribe(audio, self.responder.dialogue),
                                    "stt-at-pause")
        self._pause_words = _WordsAtPause(speech_end_ns, silence_s, task)
        return self._pause_words

    # --- a backchannel or an interruption? -----------------------------------------------------

    def _claims_turn(self, heard: Transcript, text: str, utterance: UserTurn) -> bool:
        """Do short words heard over TOM's voice ask something of TOM? A goodbye only when
        Whisper ended the sentence and does not doubt its end (`doubts_end`): over TOM's
        voice, its echo and line noise, Whisper wrote a caller's "uh huh" as "Bye-bye." (last
        word 0.24), "Bye, bye." (placed where the voice ended) and "Bye,", and TOM hung up on
        a caller who was listening. A caller who did say goodbye hangs up, or says it again
        once TOM has finished."""
        if not claims_turn(text, self.responder.dialogue.language):
            return False
        if not says_goodbye(text):
            return True
        silence_s = max(0.0, (utterance.detected_ns - utterance.speech_end_ns) / 1e9)
        ended = text.rstrip()[-1:] in (".", "!", "?")
        return ended and not doubts_end(heard, silence_s, self.settings.turns)

    def _pause_tom(self) -> None:
        """Caller voice while TOM talks: TOM pauses at once; how long the voice lasts and what
        it says decide whether TOM stops (an interruption) or goes on (a backchannel)."""
        self.voice.player.pause()
        self._hold = _Hold(self.clock.now_ns(), self.detector.start_ns)
        self._check_hold()

    def _check_hold(self) -> None:
        hold = self._hold
        if hold is None:
            return
        hold.timer = None
        if not self.detector.speaking:
            return  # the turn is over: `_turn_ended` decides
        voiced_ms = (self.detector.last_voice_ns - self.detector.start_ns) / 1e6
        if voiced_ms >= self.settings.turns.hold_ms:
            self._end_hold()
            self._join_if_going_on(self.detector.start_ns)
            self._barge_in(hold)
            self.flow.caller_starts(cuts_off_tom=True)
            return
        hold.timer = self.clock.call_later(HOLD_POLL_S, self._check_hold)

    def _end_hold(self) -> _Hold | None:
        hold, self._hold = self._hold, None
        if hold is not None and hold.timer is not None:
            hold.timer.cancel()
        return hold

    def _go_on(self, utterance: UserTurn, hold: _Hold) -> None:
        """Short caller voice while TOM was paused: TOM goes on at once, and the words decide
        whether that was right (a backchannel) or TOM stops and answers them after all."""
        self._drop_speculation()
        self.voice.player.resume()
        self.tasks.spawn(self._judge_backchannel(utterance, hold), "backchannel")

    async def _judge_backchannel(self, utterance: UserTurn, hold: _Hold) -> None:
        timed = await self.engines.transcribe(utterance.audio)
        text = timed.value.text if timed.value.has_words else ""
        if is_backchannel(text, self.settings.turns.backchannels):
            self.log.info("backchannel: TOM goes on", text=text)
            return
        if self._closed:
            return
        quiet = self._hold is None and not self.detector.speaking
        going_on = self._went_on(utterance.speech_start_ns)
        if (quiet and self.voice.playing and going_on is None
                and not self._claims_turn(timed.value, text, utterance)):
            # Words that ask nothing, the caller quiet again and TOM still talking: most likely
            # a hum Whisper wrote as a word. (Said on into more speech they join it below, and
            # once TOM has finished they are answered: no word is lost.)
            self.log.info("short sound that asks nothing: TOM goes on", text=text)
            return
        self.log.info("short interruption", text=text)
        again = self._end_hold()
        if going_on is not None:
            self._join(going_on, utterance.speech_start_ns)
        if again is not None or self.detector.speaking:
            # The caller is speaking again: TOM stops, and these words join what follows.
            if self.voice.playing:
                self._barge_in(hold)
            if again is not None:
                self.flow.caller_starts(cuts_off_tom=True)
            self._keep_pending(self._joined(utterance.audio, utterance.speech_start_ns),
                               self._joins(utterance.speech_start_ns))
            return
        if self.voice.playing:
            self._barge_in(hold)
        self.flow.caller_starts(cuts_off_tom=True)
        self.flow.caller_stops()
        self._answer_turn(utterance)

    def _paused(self, utterance: UserTurn) -> None:
        """Answer speculatively at a short pause; it is heard only if the turn ends here.

        Only while the dialogue is idle: inside a message or booking flow a turn may commit
        to the database, which must not happen for words the caller then takes back. Not while
        the engines have a backlog either: work that may be thrown away would delay other calls.
        Without an answer the words are still heard here when Smart Turn will judge this
        pause: its verdict waits for them, and so would the turn's end.
        """
        dialogue = self.responder.dialogue
        audio = self._joined(utterance.audio, utterance.speech_start_ns)
        if self._answering or dialogue.in_flow:
            if self.smart is not None:
                self._words_at(audio, utterance.speech_end_ns, self.detector.silence_s,
                               Urgency.LATER)
            return
        if self.engines.backlog():
            self.log.debug("no speculation: the engines have a backlog")
            return
        self._drop_speculation()
        number = self.responder.turn + 1
        speech = Speech(number, dialogue.fork(), timer=TurnTimer(number, utterance.speech_end_ns),
                        audio=audio, speech_end_ns=utterance.speech_end_ns, authorized=False)
        speech.joins = self._joins(utterance.speech_start_ns)
        words = self._words_at(audio, utterance.speech_end_ns, self.detector.silence_s,
                               Urgency.LATER)
        speech.words = None if words is None else words.task
        self._run(speech, self._answer(speech), "speculation")
        self.speculation = speech

    def _drop_speculation(self) -> None:
        if self.speculation is not None:
            self.speculation.interrupt()
            self.speculation = None

    def _turn_ended(self, utterance: UserTurn) -> None:
        self._caller_active()
        hold = self._end_hold()
        if hold is not None:
            self._go_on(utterance, hold)
            return
        self.flow.caller_stops()
        speculation, self.speculation = self.speculation, None
        if speculation is not None and speculation.speech_end_ns == utterance.speech_end_ns:
            # The caller stayed silent since the pause: the answer being prepared is the one.
            self._cancel_silence()
            self.responder.turn = speculation.number
            speculation.mark("eot_detected", utterance.detected_ns)
            speculation.audio = self._joined(utterance.audio, utterance.speech_start_ns)
            self._pending = None
            self.current = speculation
            speculation.authorize()
            return
        if speculation is not None:
            speculation.interrupt()
        self._answer_turn(utterance)

    def _answer_turn(self, utterance: UserTurn) -> None:
        self.responder.turn += 1
        timer = TurnTimer(self.responder.turn, utterance.speech_end_ns)
        timer.mark("eot_detected", utterance.detected_ns)
        audio = self._joined(utterance.audio, utterance.speech_start_ns)
        joins = self._joins(utterance.speech_start_ns)
        self._pending = None
        speech = Speech(self.responder.turn, self.responder.dialogue, timer=timer, audio=audio,
                        speech_end_ns=utterance.speech_end_ns)
        speech.joins = joins
        words = self._pause_words
        if words is not None and words.speech_end_ns == utterance.speech_end_ns:
            speech.words = words.task  # the end-of-turn check heard these very words
        self._start(speech, self._answer(speech))

    async def _answer(self, speech: Speech) -> None:
        if not await self.responder.caller_turn(speech):
            # A lone short word ("Hello,") often fails alone; it is heard again joined to the
            # caller's next words if they follow soon.
            self._keep_pending(speech.audio, speech.joins)

    # --- caller audio joined across a pause --------------------------------------------------

    def _keep_pending(self, audio: Samples | None, turn: int | None = None) -> None:
        """Join `audio` in front of a turn that begins within `PENDING_S`. A speculative answer
        and the words at a pause were made without it: both go."""
        if audio is None:
            return
        self._pending = _Pending(audio, self.clock.now_ns() + int(PENDING_S * 1e9), turn)
        self._drop_speculation()
        self._pause_words = None

    def _pending_for(self, start_ns: int) -> _Pending | None:
        """What joins in front of caller voice that began at `start_ns` (stale audio is let go)."""
        if self._pending is not None and start_ns >= self._pending.until_ns:
            self._pending = None
        return self._pending

    def _joined(self, audio: Samples, start_ns: int) -> Samples:
        pending = self._pending_for(start_ns)
        return audio if pending is None else np.concatenate([pending.audio, audio])

    def _joins(self, start_ns: int) -> int | None:
        pending = self._pending_for(start_ns)
        return None if pending is None else pending.turn

    def _went_on(self, start_ns: int) -> Speech | None:
        """The speech answering the caller's last turn, when caller voice that began at
        `start_ns` goes on from that turn: it began within `turns.continuation_ms` of the
        turn's last voice. A person who pauses mid-sentence for a second ("I'd like to book
        a … service") is not finished, whatever Smart Turn and the words said at the pause."""
        speech = self.current
        if speech is None or speech.audio is None or speech.speech_end_ns is None:
            return None  # TOM is answering no caller turn
        after_ns = start_ns - speech.speech_end_ns
        if 0 <= after_ns < self.settings.turns.continuation_ms * 1_000_000:
            return speech
        self.log.debug("caller voice after the turn TOM answers", turn=speech.number,
                       after_ms=round(after_ns / 1e6))
        return None

    def _join_if_going_on(self, start_ns: int) -> None:
        """TOM stops for the caller: the turn it answers joins what they say now, if they are
        going on from it (see `_went_on`)."""
        speech = self._went_on(start_ns)
        if speech is not None:
            self._join(speech, start_ns)

    def _join(self, speech: Speech, start_ns: int) -> None:
        """The turn `speech` answers joins caller voice that began at `start_ns`."""
        if self._pending_for(start_ns) is not None:
            return
        self.log.info("caller goes on after a pause: one turn", turn=speech.number,
                      after_ms=round((start_ns - (speech.speech_end_ns or 0)) / 1e6))
        self._keep_pending(speech.audio, speech.number if speech.answered else speech.joins)

    # --- speeches that do not answer a caller turn ------------------------------------------

    def greet(self) -> None:
        speech = Speech(self.responder.turn, self.responder.dialogue)
        self._start(speech, self.responder.unprompted(speech, self.responder.dialogue.greeting()))

    async def keypad(self, digit: str) -> None:
        self._caller_active()
        self._drop_speculation()
        self._release_hold()
        reply = await self.responder.dialogue.on_dtmf(digit)
        if self._closed or not (reply.text or reply.llm_messages or reply.action):
            return
        if self.current is not None:
            self.current.interrupt()
        self.responder.turn += 1
        speech = Speech(self.responder.turn, self.responder.dialogue,
                        timer=TurnTimer(self.responder.turn, self.clock.now_ns()))
        self._start(speech, self.responder.respond(speech, reply))

    def goodbye(self, text: str, outcome: ev.Outcome, reason: str) -> Speech:
        """Say `text` and hang up; the caller can cut the words short but not the hang-up."""
        self._release_hold()
        if self.current is not None:
            self.current.interrupt()
        self._drop_speculation()
        speech = Speech(self.responder.turn, self.responder.dialogue)
        self._run(speech, self.responder.goodbye(speech, text, outcome, reason), "goodbye")
        return speech

    # --- a silent caller ----------------------------------------------------------------------

    def listen(self) -> None:
        """TOM waits for the caller; re-prompts start counting."""
        self._restart_silence()

    def _caller_active(self) -> None:
        self.reprompts = 0
        self._restart_silence()

    def _restart_silence(self) -> None:
        """Count the caller's silence from now, unless something is going on."""
        self._cancel_silence()
        if not self.busy and not self._closed:
            self._count_silence()

    def _count_silence(self) -> None:
        self._cancel_silence()
        self._silence = self.clock.call_later(self.settings.call.reprompt_after_s,
                                              self._silence_elapsed)

    def _cancel_silence(self) -> None:
        if self._silence is not None:
            self._silence.cancel()
            self._silence = None

    def _silence_elapsed(self) -> None:
        self._silence = None
        if self._closed or self.detector.speaking or self._answering:
            return  # the end of that activity restarts the count
        if self.voice.playing:  # leftover audio of a dropped reply: count again from now
            self._count_silence()
            return
        if self.reprompts >= self.settings.call.max_reprompts:
            self.goodbye(self.responder.dialogue.idle_farewell(), ev.Outcome.TIMEOUT,
                         "caller silent")
            return
        self.reprompts += 1
        self.responder.turn += 1
        self.flow.reply()
        speech = Speech(self.responder.turn, self.responder.dialogue)
        text = self.responder.dialogue.reprompt(self.reprompts)
        self._start(speech, self.responder.unprompted(speech, text))

    # --- running speeches -----------------------------------------------------------------------

    def _start(self, speech: Speech, body: Coroutine[Any, Any, None]) -> None:
        """`speech` becomes the current one (barge-in and new turns act on it)."""
        self.current = speech
        self._run(speech, body, "reply")

    def _run(self, speech: Speech, body: Coroutine[Any, Any, None], name: str) -> None:
        if self._closed:
            body.close()
            return
        self._cancel_silence()
        task = self.tasks.spawn(body, name)
        task.add_done_callback(lambda _: self._speech_over(speech))
        speech.attach(task)

    def _speech_over(self, speech: Speech) -> None:
        if speech is self.current:
            self.current = None
            self._restart_silence()

    def close(self) -> None:
        """The call ended: no new speech, no timer."""
        self._closed = True
        self._cancel_silence()
        self._drop_speculation()
        self._end_hold()

    def _release_hold(self) -> None:
        """Something else takes over the line: a paused TOM must not stay silent."""
        if self._end_hold() is not None:
            self.voice.player.resume()
