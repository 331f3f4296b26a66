"""Streaming chat LLMs: llama.cpp in-process, or any OpenAI-compatible HTTP endpoint.

Both yield text pieces as they are generated; cancelling the consuming task stops generation
(the llama.cpp worker thread sees the cancel flag at its next token). A stream given a
`StreamTiming` notes when its request reached the model, so a turn can tell the wait for the
shared llama.cpp worker from the model's own time to the first token.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import structlog

from tom.config import LlmSettings
from tom.engine.workers import Worker

log = structlog.get_logger(__name__)

Messages = list[dict[str, str]]


class LLMError(RuntimeError):
    """The language model failed; the message says where."""


@dataclass
class StreamTiming:
    """Filled in by a stream: when its worker began the request (monotonic ns).

    None when the backend has no worker of ours (an HTTP endpoint queues on its own side).
    """

    started_ns: int | None = None


class ChatModel(Protocol):
    def stream(self, messages: Messages, *, max_tokens: int | None = None,
               temperature: float | None = None,
               timing: StreamTiming | None = None) -> AsyncGenerator[str, None]: ...

    async def close(self) -> None: ...


def load_llama(path: str, settings: LlmSettings) -> Any:
    """A llama.cpp `Llama` with the configured context and thread budget."""
    from llama_cpp import Llama

    return Llama(model_path=path, n_ctx=settings.context, n_threads=settings.threads,
                 n_threads_batch=settings.threads, n_batch=512, verbose=False)


@dataclass(frozen=True)
class _Started:
    ns: int


_DONE = object()


class LlamaChat:
    """llama.cpp behind one worker thread: the model is shared by all calls, one request at a time.

    llama.cpp reuses the longest common token prefix of consecutive prompts, so the shared system
    prompt is evaluated once, not per turn.
    """

    def __init__(self, llama: Any, settings: LlmSettings, worker: Worker) -> None:
        self.llama = llama
        self.settings = settings
        self.worker = worker

    async def stream(self, messages: Messages, *, max_tokens: int | None = None,
                     temperature: float | None = None,
                     timing: StreamTiming | None = None) -> AsyncGenerator[str, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        cancelled = threading.Event()

        def put(item: object) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            if cancelled.is_set():
                return put(_DONE)
            try:
                put(_Started(self.worker.clock()))
                chunks = self.llama.create_chat_completion(
                    messages=messages, stream=True,
                    max_tokens=max_tokens or self.settings.max_tokens,
                    temperature=self.settings.temperature if temperature is None else temperature,
                    top_p=0.9, repeat_penalty=1.1)
                for chunk in chunks:
                    if cancelled.is_set():
                        break
                    text = chunk["choices"][0]["delta"].get("content")
                    if text:
                        put(text)
            except Exception as exc:  # surfaced to the caller as LLMError
                put(LLMError(f"llama.cpp failed: {type(exc).__name__}: {exc}"))
            put(_DONE)

        try:
            self.worker.submit(work)
        except RuntimeError as exc:  # the worker was shut down: TOM is stopping
            raise LLMError(f"llama.cpp is not available: {exc}") from exc
        try:
            while (item := await queue.get()) is not _DONE:
                if isinstance(item, _Started):
                    if timing is not None:
                        timing.started_ns = item.ns
                elif isinstance(item, LLMError):
                    raise item
                elif isinstance(item, str):
                    yield item
        finally:
            cancelled.set()

    async def close(self) -> None:
        """Nothing of its own to close: the worker belongs to the assistant."""


class OpenAIChat:
    """An OpenAI-compatible `/chat/completions` endpoint, streamed over SSE."""

    def __init__(self, settings: LlmSettings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None

    async def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {"Authorization": f"Bearer {self.settings.api_key}"} \
                if self.settings.api_key else {}
            self._session = aiohttp.ClientSession(
                headers=headers, timeout=aiohttp.ClientTimeout(
                    total=None, connect=self.settings.timeout_s,
                    sock_read=self.settings.timeout_s))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def stream(self, messages: Messages, *, max_tokens: int | None = None,
                     temperature: float | None = None,
                     timing: StreamTiming | None = None) -> AsyncGenerator[str, None]:
        url = self.settings.base_url.rstrip("/") + "/chat/completions"
        body: dict[str, Any] = {"model": self.settings.model, "messages": messages, "stream": True,
                "max_tokens": max_tokens or self.settings.max_tokens,
                "temperature": self.settings.temperature if temperature is None else temperature}
        for attempt in (1, 2):
            said = False
            try:
                session = await self._client()
                async with await session.post(url, json=body) as resp:
                    if resp.status != 200:
                        detail = (await resp.text())[:200]
                        resp.close()
                        raise LLMError(f"LLM endpoint {url} answered {resp.status}: {detail}")
                    async for raw in resp.content:
                        line = raw.decode("utf-8", errors="replace").strip()
                        if not line.startswith("data:"):
                            continue
                        data = line[5:].strip()
                        if data == "[DONE]":
                            return
                        text = _delta_text(data)
                        if text:
                            said = True
                            yield text
                    # A peer that failed mid-answer closes this connection soon after: never
                    # pool it.
                    resp.close()
                raise LLMError(f"LLM endpoint {url} ended the stream before [DONE]; "
                               "it probably failed mid-answer (see its log)")
            except (TimeoutError, aiohttp.ClientError) as exc:
                # A peer that failed mid-answer closes its end after the response, and aiohttp
                # only notices when it reuses that pooled connection: the next request dies
                # before its first word. Ask once more; never after words were spoken.
                if said or attempt == 2 or not isinstance(exc, _DEAD_CONNECTION):
                    raise LLMError(f"LLM endpoint {url} unreachable: {type(exc).__name__}: "
                                   f"{exc}") from exc
                log.info("LLM connection broke before the answer; asking again", url=url)


_DEAD_CONNECTION = (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError,
                    aiohttp.ClientOSError)


def _delta_text(data: str) -> str:
    try:
        choice = json.loads(data)["choices"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        return ""
    delta = choice.get("delta") if isinstance(choice, dict) else None
    text = delta.get("content") if isinstance(delta, dict) else None
    return text if isinstance(text, str) else ""
