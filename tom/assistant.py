"""The embeddable TOM: loads every model once and opens calls that share them.

    async with Assistant(Settings.load()) as tom:
        call = await tom.open_call(transport="host", caller="+4930123", in_rate=8000, out_rate=8000)
        call.feed(pcm16_8k)                       # caller audio, any chunk size
        async for item in call.outbound(): ...    # AudioOut / MarkOut / ClearOut / EndOut

Start-up that fails half-way unwinds what it started (worker threads, LLM client, message store,
webhook sender); `close()` may be called any number of times.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from tom import models
from tom.admission import LoadGate
from tom.audio import PHONE_RATE, float_to_pcm16, resample
from tom.call import Call, CallEngines, new_call_id
from tom.call.engines import SpokenLanguage
from tom.call.voice import VOLUME
from tom.config import Settings
from tom.conversation.messages import MessageStore
from tom.conversation.profile import Profile, ProfileError
from tom.conversation.spoken import spoken
from tom.engine.llm import ChatModel
from tom.engine.repeat_cache import RepeatCache
from tom.engine.samples import Samples
from tom.engine.sentences import sentences_of
from tom.engine.stt import SpeechToText, Transcript
from tom.engine.tts import Synthesis
from tom.engine.tts.voices import Voices
from tom.engine.vad import SileroStream
from tom.engine.workers import Timed, Urgency, Worker, urgent
from tom.monitor.events import EventBus
from tom.registry import CallRecord, CallRegistry, CallsBusy
from tom.telephony.errors import DuplicateCall
from tom.telephony.limits import ConnectionLimits, Guards

log = structlog.get_logger(__name__)

STAGES = ("vad", "stt", "llm", "tts")
Progress = Callable[[str, str], None]


class Assistant:
    """Shared models, worker threads, the call registry and the event bus of one TOM process."""

    def __init__(self, settings: Settings | None = None, *, bus: EventBus | None = None) -> None:
        self.settings = settings or Settings.load()
        self.bus = bus or EventBus()
        self.registry: CallRegistry[Call] = CallRegistry(
            self.bus, self.settings.server.max_calls,
            load=LoadGate(self.settings.limits.admit_queue_p95_ms))
        self.loaded: dict[str, models.LoadedModel] = {}
        # One thread per engine: each model is used by one request at a time, and their thread
        # budgets (stt.threads, llm.threads, tts.threads) are sized together for the machine.
        self.workers: dict[str, Worker] = {}
        self._repeats: dict[str | None, RepeatCache] = {}  # by voice (language)
        self.accepting = True
        # What one caller may cost (pending connections, busy refusals, inbound audio rate).
        self.guards = Guards(ConnectionLimits.from_settings(self.settings.limits))
        self._busy: dict[int, asyncio.Future[bytes]] = {}  # the busy message by output rate
        self._engines: CallEngines | None = None
        self._stt: SpeechToText | None = None
        self._tts: Voices | None = None
        self.languages: tuple[str, ...] = ()  # what TOM speaks, the greeting's first
        self._running: contextlib.AsyncExitStack | None = None

    async def __aenter__(self) -> Assistant:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- what the rest of TOM reads -------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._engines is not None

    @property
    def engines(self) -> CallEngines:
        if self._engines is None:
            raise RuntimeError("the assistant is not started; call `await assistant.start()`")
        return self._engines

    @property
    def profile(self) -> Profile:
        return self.engines.profile

    @property
    def messages(self) -> MessageStore | None:
        return self.engines.messages

    @property
    def llm(self) -> ChatModel:
        return self.engines.chat

    @property
    def calls(self) -> Mapping[str, Call]:
        """The live calls by id (read-only; the registry keeps them)."""
        return self.registry.calls

    def describe_models(self) -> list[dict[str, Any]]:
        return [m.describe() for m in self.loaded.values()]

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self, progress: Progress | None = None) -> None:
        """Resolve and load every model (in worker threads), then the business profile."""
        if self._engines is not None:
            return
        sources = {stage: models.RESOLVERS[stage](self.settings) for stage in STAGES}
        async with contextlib.AsyncExitStack() as stack:
            for stage in STAGES:
                worker = self.workers[stage] = Worker(stage)
                stack.callback(worker.close)
            for stage in STAGES:
                if progress:
                    progress(stage, sources[stage].name)
                loaded = await self.workers[stage].run(
                    models.timed_load, stage, sources[stage], self._loader(stage))
                self.loaded[stage] = loaded.value
            self._engines = await self._wire(stack)
            stack.callback(self._forget_engines)
            await self._warm_up()
            if self.settings.tts.prerender:
                prerender = asyncio.create_task(self._prerender())
                stack.callback(prerender.cancel)
            self._running = stack.pop_all()

    def _forget_engines(self) -> None:
        self._engines = None

    def _loader(self, stage: str) -> Callable[[models.ModelSource], Any]:
        s = self.settings
        if stage == "vad":
            from tom.engine.vad import load_silero

            return lambda src: load_silero(str(src.path), s.vad.threads)
        if stage == "stt":
            from tom.engine.stt import load_whisper

            return lambda src: load_whisper(str(src.path), s.stt)
        if stage == "llm":
            if s.llm.backend == "openai":
                return lambda src: None
            from tom.engine.llm import load_llama

            return lambda src: load_llama(str(src.path), s.llm)
        from tom.engine.tts.voices import load_voices

        return lambda src: load_voices(models.voice_choices(s), s.tts)

    async def _wire(self, stack: contextlib.AsyncExitStack) -> CallEngines:
        """The loaded models behind their workers, the profile and the store: what calls use."""
        from tom.conversation.profile import load_profile
        from tom.engine.llm import LlamaChat, OpenAIChat

        s = self.settings
        self.languages = models.spoken_languages(s)
        multilingual = len(self.languages) > 1
        self._stt = SpeechToText(
            self.loaded["stt"].engine, s.stt, self.languages if multilingual else (),
            # only the end-of-turn judge reads it (tom/call/finished.py `doubts_end`)
            score_last_word=s.turns.smart_turn and (s.turns.sure_word_prob > 0
                                                    or s.turns.sure_word_prob_unfinished > 0
                                                    or s.turns.added_word_ms > 0
                                                    or s.turns.more_words_prob > 0))
        self._tts = self.loaded["tts"].engine
        stack.push_async_callback(self.workers["tts"].run, self._tts.close)
        chat: ChatModel = (OpenAIChat(s.llm) if s.llm.backend == "openai"
                           else LlamaChat(self.loaded["llm"].engine, s.llm, self.workers["llm"]))
        stack.push_async_callback(chat.close)
        profiles = {code: load_profile(profile_file(s.assistant.profile, code, first=i == 0),
                                       code)
                    for i, code in enumerate(self.languages)}
        for profile in profiles.values():
            if not profile.transfer_number and s.call.transfer_number:
                profile.transfer_number = s.call.transfer_number
        if multilingual:
            _check_languages(profiles)
        for code, each in profiles.items():
            self.calls_cache(code).keep(spoken(sentence, code) for text in each.fixed_texts()
                                        for sentence in sentences_of(text))
        profile = profiles[self.languages[0]]
        languages = {code: SpokenLanguage(code, profiles[code],
                                          functools.partial(self.synthesize_in, code))
                     for code in self.languages} if multilingual else {}
        messages = MessageStore.in_dir(s.data.dir)
        stack.callback(messages.close)
        if s.data.webhook_url:
            from tom.conversation.webhook import WebhookSender

            webhook = WebhookSender(s.data.webhook_url, messages)
            await webhook.start()
            stack.push_async_callback(webhook.stop)
        session = self.loaded["vad"].engine
        return CallEngines(settings=s, bus=self.bus, profile=profile, messages=messages,
                           transcribe=self.transcribe, synthesize=self.synthesize, chat=chat,
                           new_vad=lambda: SileroStream(session), languages=languages,
                           backlog=lambda: any(w.queued() for w in self.workers.values()))

    async def _warm_up(self) -> None:
        """One pass through each engine so the first caller does not pay for lazy init."""
        started = time.perf_counter()
        await self.transcribe(np.zeros(16000, dtype=np.float32))
        await self.busy_audio(PHONE_RATE)  # warms TTS up and makes the first refusal free
        profile = self.engines.profile
        for sentence in sentences_of(profile.greeting):  # every call starts with it: kept
            await self.calls_cache(profile.language)(spoken(sentence, profile.language))
        for code in self.languages[1:]:
            await self.synthesize_in(code, "Hallo.")
        if self.settings.llm.backend == "llama":
            async for _ in self.llm.stream([{"role": "user", "content": "Hi"}], max_tokens=2):
                pass
        turns = self.settings.turns
        if turns.smart_turn:  # loaded here, not on the loop when the first call starts
            from tom.engine import smart_turn

            await self.workers["vad"].run(smart_turn.shared, turns.smart_turn_model)
        log.info("engines warmed up", seconds=round(time.perf_counter() - started, 3))

    async def _prerender(self) -> None:
        """Every voice's fixed sentences, as work that waits for the calls' (Urgency.LATER)."""
        started = time.perf_counter()
        try:
            with urgent(Urgency.LATER):
                rendered = [await cache.render_kept() for cache in list(self._repeats.values())]
        except Exception as exc:  # calls still synthesise what they need themselves
            log.warning("fixed texts not rendered", error=str(exc))
            return
        log.info("fixed texts rendered", sentences=sum(rendered),
                 audio_s=round(sum(c.seconds for c in self._repeats.values()), 1),
                 seconds=round(time.perf_counter() - started, 1))

    async def close(self) -> None:
        """End every call politely, then stop what `start` started (safe to call again)."""
        await self.end_all()
        running, self._running = self._running, None
        if running is not None:
            await running.aclose()

    # --- the engines, timed -------------------------------------------------------------------

    async def transcribe(self, audio: Samples, current: str | None = None) -> Timed[Transcript]:
        """`current`: the call's language so far (a multilingual TOM keeps it unless sure)."""
        assert self._stt is not None, "the assistant is not started"
        return await self.workers["stt"].run(self._stt.transcribe, audio, current)

    async def synthesize(self, text: str) -> Timed[Synthesis]:
        """`text` in the voice of TOM's first language; a sentence said before comes cached."""
        return await self.repeats(None)(text)

    async def synthesize_in(self, language: str, text: str) -> Timed[Synthesis]:
        """`text` in the voice of `language`; a sentence said before comes cached."""
        return await self.repeats(language)(text)

    def repeats(self, language: str | None) -> RepeatCache:
        """The repeat cache of one voice (None: the first language's)."""
        cache = self._repeats.get(language)
        if cache is None:
            cache = self._repeats[language] = RepeatCache(
                functools.partial(self._synthesize_fresh, language))
        return cache

    def calls_cache(self, language: str) -> RepeatCache:
        """The cache a call's sentences in `language` go through: that language's on a
        multilingual TOM (`SpokenLanguage.synthesize`), else the one voice's (`synthesize`)."""
        return self.repeats(language if len(self.languages) > 1 else None)

    async def _synthesize_fresh(self, language: str | None, text: str) -> Timed[Synthesis]:
        assert self._tts is not None, "the assistant is not started"
        if language is None:
            return await self.workers["tts"].run(self._tts.synthesize, text)
        return await self.workers["tts"].run(self._tts.synthesize, text, language)

    # --- calls --------------------------------------------------------------------------------

    async def open_call(self, *, transport: str, caller: str = "", call_id: str | None = None,
                        in_rate: int = PHONE_RATE, out_rate: int = PHONE_RATE,
                        language: str | None = None) -> Call:
        """Admit and start a call; raises `CallsBusy` when every line is taken."""
        engines = self.engines
        call_id = call_id or new_call_id()
        if call_id in self.registry.calls:
            raise DuplicateCall(f"call id {call_id} belongs to a live call; refused, the live "
                                "call goes on")
        if not self.accepting:
            self.registry.reject(call_id, transport, caller)
            raise CallsBusy("TOM is shutting down")

        def make(record: CallRecord) -> Call:
            return Call(engines, record, in_rate=in_rate, out_rate=out_rate, language=language)

        record = self.registry.admit(call_id, transport, caller, make=make)
        call = self.registry.calls[record.id]
        await call.start()
        return call

    async def busy_audio(self, out_rate: int) -> bytes:
        """The "all lines are busy" message as PCM16 at `out_rate`, rendered once per rate.

        A refusal storm must not queue TTS work in front of the live calls' replies.
        """
        rendered = self._busy.get(out_rate)
        if rendered is None:
            rendered = self._busy[out_rate] = asyncio.ensure_future(self._render_busy(out_rate))
        try:
            return await asyncio.shield(rendered)
        except Exception:
            if self._busy.get(out_rate) is rendered:
                del self._busy[out_rate]  # the next refusal tries again
            raise

    async def _render_busy(self, out_rate: int) -> bytes:
        samples, rate = (await self.synthesize(self.profile.busy_message)).value
        return float_to_pcm16(resample(samples * VOLUME, rate, out_rate))

    async def end_all(self, reason: str = "shutting down") -> None:
        """End every call politely (a goodbye, then hang-up), all at once."""
        calls = list(self.calls.values())
        if calls:
            await asyncio.gather(*(call.close_politely(reason) for call in calls))


def profile_file(configured: str, language: str, *, first: bool) -> str | None:
    """The profile of one of TOM's languages: `assistant.profile` for the first; for another, the
    file beside it named for that language (shop.toml -> shop.en.toml / shop.de.toml, and
    shop.de.toml -> shop.en.toml or shop.toml); no profile set: the demo of that language."""
    if not configured:
        return None
    if first:
        return configured
    path = Path(configured).expanduser()
    stem = path.name.removesuffix(".toml")
    base = stem.rsplit(".", 1)[0] if stem.count(".") and len(stem.rsplit(".", 1)[1]) == 2 \
        else stem
    candidates = [path.with_name(f"{base}.{language}.toml"), path.with_name(f"{base}.toml")]
    for candidate in candidates:
        if candidate.is_file() and candidate != path:
            return str(candidate)
    raise ProfileError(f"assistant.languages includes {language!r} but there is no profile for "
                       f"it: write {candidates[0]} (the same business, its texts in that language)")


def _check_languages(profiles: dict[str, Profile]) -> None:
    for code, profile in profiles.items():
        if profile.language != code:
            where = profile.path or "the demo profile"
            raise ProfileError(f"{where} has language = {profile.language!r} but is used for "
                               f"{code!r} in assistant.languages; set language = {code!r} in it")
