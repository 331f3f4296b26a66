"""The embeddable TOM: loads every model once and opens calls that share them.

    async with Assistant(Settings.load()) as tom:
        call = await tom.open_call(transport="host", caller="+4930123", in_rate=8000, out_rate=8000)
        call.feed(pcm16_8k)                       # caller audio, any chunk size
        async for item in call.outbound(): ...    # AudioOut / MarkOut / ClearOut / EndOut
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import structlog

from tom import models
from tom.config import Settings
from tom.dispatcher import CallRegistry, CallsBusy
from tom.monitor.events import EventBus

log = structlog.get_logger(__name__)

STAGES = ("vad", "stt", "llm", "tts")


class Assistant:
    """Shared models, worker threads, the call registry and the event bus of one TOM process."""

    def __init__(self, settings: Settings | None = None, *, bus: EventBus | None = None) -> None:
        self.settings = settings or Settings.load()
        self.bus = bus or EventBus()
        self.registry = CallRegistry(self.bus, self.settings.server.max_calls)
        self.loaded: dict[str, models.LoadedModel] = {}
        self.calls: dict[str, Any] = {}
        self._watchers: set[asyncio.Task] = set()
        # One thread per engine: each model is used by one request at a time, and their thread
        # budgets (stt.threads, llm.threads, tts.threads) are sized together for the machine.
        self._pools = {s: ThreadPoolExecutor(1, thread_name_prefix=f"tom-{s}") for s in STAGES}
        self.profile = None
        self.messages = None
        self.webhook = None
        self.llm = None
        self.stt = None
        self.tts = None
        self.vad_session = None
        self.ready = False
        self.accepting = True

    async def __aenter__(self) -> Assistant:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self, progress: Callable[[str, str], None] | None = None) -> None:
        """Resolve and load every model (in worker threads), then the business profile."""
        from tom.conversation.messages import MessageStore
        from tom.conversation.profile import load_profile

        sources = {stage: models.RESOLVERS[stage](self.settings) for stage in STAGES}
        loop = asyncio.get_running_loop()
        for stage in STAGES:
            if progress:
                progress(stage, sources[stage].name)
            loader = self._loader(stage)
            self.loaded[stage] = await loop.run_in_executor(
                self._pools[stage], models.timed_load, stage, sources[stage], loader)
        self._wire_engines()
        self.profile = load_profile(self.settings.assistant.profile or None,
                                    self.settings.assistant.language)
        if not self.profile.transfer_number and self.settings.call.transfer_number:
            self.profile.transfer_number = self.settings.call.transfer_number
        self.messages = MessageStore.in_dir(self.settings.data.dir)
        if self.settings.data.webhook_url:
            from tom.conversation.webhook import WebhookSender

            self.webhook = WebhookSender(self.settings.data.webhook_url, self.messages)
            await self.webhook.start()
        await self._warm_up()
        self.ready = True

    def _loader(self, stage: str):
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
        from tom.engine.tts import load_piper

        return lambda src: load_piper(src.path, s.tts)

    def _wire_engines(self) -> None:
        from tom.engine.llm import LlamaChat, OpenAIChat
        from tom.engine.stt import SpeechToText
        from tom.engine.tts import TextToSpeech

        s = self.settings
        self.vad_session = self.loaded["vad"].engine
        self.stt = SpeechToText(self.loaded["stt"].engine, s.stt)
        self.tts = TextToSpeech(self.loaded["tts"].engine, s.tts)
        self.llm = (OpenAIChat(s.llm) if s.llm.backend == "openai"
                    else LlamaChat(self.loaded["llm"].engine, s.llm, self._pools["llm"]))

    async def _warm_up(self) -> None:
        """One pass through each engine so the first caller does not pay for lazy init."""
        started = time.perf_counter()
        await self.transcribe(np.zeros(16000, dtype=np.float32))
        await self.synthesize("Hello.")
        if self.settings.llm.backend == "llama":
            async for _ in self.llm.stream([{"role": "user", "content": "Hi"}], max_tokens=2):
                pass
        log.info("engines warmed up", seconds=round(time.perf_counter() - started, 3))

    async def transcribe(self, audio: np.ndarray):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pools["stt"], self.stt.transcribe, audio)

    async def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        loop = asyncio.get_running_loop()
        audio = await loop.run_in_executor(self._pools["tts"], self.tts.synthesize, text)
        return audio, self.tts.sample_rate

    def describe_models(self) -> list[dict[str, Any]]:
        return [m.describe() for m in self.loaded.values()]

    async def open_call(self, *, transport: str, caller: str = "", call_id: str | None = None,
                        in_rate: int = 8000, out_rate: int = 8000,
                        language: str | None = None):
        """Admit and start a call; raises `CallsBusy` when every line is taken."""
        from tom.call import Call, new_call_id

        if not self.ready:
            raise RuntimeError("the assistant is not started; call `await assistant.start()`")
        call_id = call_id or new_call_id()
        if not self.accepting:
            self.registry.reject(call_id, transport, caller)
            raise CallsBusy("TOM is shutting down")
        record = self.registry.admit(call_id, transport, caller)
        call = Call(self, record, in_rate=in_rate, out_rate=out_rate, language=language)
        self.calls[call.id] = call
        watcher = asyncio.get_running_loop().create_task(self._forget(call))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        await call.start()
        return call

    async def _forget(self, call) -> None:
        await call.wait_ended()
        self.calls.pop(call.id, None)

    async def busy_audio(self, out_rate: int) -> bytes:
        """The "all lines are busy" message as PCM16 at `out_rate`."""
        from tom.audio import float_to_pcm16, resample

        audio, rate = await self.synthesize(self.profile.busy_message)
        return float_to_pcm16(resample(audio * 0.8, rate, out_rate))

    async def end_all(self, reason: str = "shutting down") -> None:
        """End every call politely (a goodbye, then hang-up), all at once."""
        await asyncio.gather(*(call.close_politely(reason) for call in list(self.calls.values())))

    async def close(self) -> None:
        await self.end_all()
        if hasattr(self.llm, "close"):
            await self.llm.close()
        if self.webhook is not None:
            await self.webhook.stop()
        if self.messages is not None:
            self.messages.close()
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)
        self.ready = False
