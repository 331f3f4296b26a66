"""OpenAIChat's SSE reading against a small scripted peer: what it yields, skips and raises.

The peer is an aiohttp app in this file; each test scripts the exact bytes the endpoint writes,
so framing cases (several events per write, an event split across writes) are under control.
At the end, LlamaChat's worker hand-off with a fake model (the real one: tests/e2e).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from aiohttp import web

from tom.config import LlmSettings
from tom.engine.llm import LlamaChat, LLMError, OpenAIChat, StreamTiming
from tom.engine.workers import Worker

Script = Callable[[web.Request, web.StreamResponse], Awaitable[None]]
USER = [{"role": "user", "content": "Hi"}]


def event(content: str | None = None, **delta: object) -> str:
    """One SSE `data:` line of an OpenAI-style chat chunk."""
    if content is not None:
        delta["content"] = content
    return "data: " + json.dumps({"choices": [{"index": 0, "delta": delta}]}) + "\n\n"


class Peer:
    """A fake OpenAI-compatible endpoint; `script` writes the body of the next answer."""

    def __init__(self) -> None:
        self.script: Script | None = None
        self.status = 200
        self.requests: list[tuple[dict[str, str], dict]] = []
        self.release = asyncio.Event()  # handlers that hang wait on this; set at teardown
        self.drop_after_answer = False  # keep-alive connection dies once the answer is sent
        self._dead: set[object] = set()
        self.runner: web.AppRunner | None = None
        self.base_url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.transport in self._dead:  # stands for a connection the peer closed after failing
            request.transport.abort()
            raise web.HTTPServiceUnavailable()
        self.requests.append((dict(request.headers), await request.json()))
        if self.status != 200:
            return web.Response(status=self.status, text="model 'local' is not loaded")
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        assert self.script is not None
        await self.script(request, resp)
        if self.drop_after_answer:
            self._dead.add(request.transport)
        return resp

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.handle)
        self.runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/v1"

    async def stop(self) -> None:
        self.release.set()
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    p = Peer()
    await p.start()
    yield p
    await p.stop()


@pytest.fixture
async def chats() -> AsyncIterator[Callable[..., OpenAIChat]]:
    """`chats(base_url, **LlmSettings)` → an OpenAIChat closed at teardown."""
    made: list[OpenAIChat] = []

    def make(base_url: str, **kw: object) -> OpenAIChat:
        made.append(OpenAIChat(LlmSettings(backend="openai", base_url=base_url, **kw)))
        return made[-1]

    yield make
    for chat in made:
        await chat.close()


def writes(*parts: str, gap_s: float = 0.0) -> Script:
    """A script that writes each part as its own chunk, flushed, `gap_s` apart."""

    async def script(_request: web.Request, resp: web.StreamResponse) -> None:
        with contextlib.suppress(ConnectionResetError):  # the client may give up first
            for part in parts:
                await resp.write(part.encode())
                await asyncio.sleep(gap_s)

    return script


async def collect(chat: OpenAIChat | LlamaChat, **kw: object) -> list[str]:
    """All pieces of one answer; a stream that never ends fails the test instead of hanging."""

    async def run() -> list[str]:
        return [piece async for piece in chat.stream(USER, **kw)]

    return await asyncio.wait_for(run(), 10)


async def test_several_events_in_one_write_are_all_yielded(peer, chats):
    peer.script = writes(event("Hel") + event("lo") + event(" there") + "data: [DONE]\n\n")
    assert await collect(chats(peer.base_url)) == ["Hel", "lo", " there"]


async def test_an_event_split_across_writes_is_joined(peer, chats):
    line = event("Good morning")
    peer.script = writes(event("A") + line[:17], line[17:30], line[30:] + "data: [DONE]\n\n",
                         gap_s=0.02)
    assert await collect(chats(peer.base_url)) == ["A", "Good morning"]


async def test_done_ends_the_stream_while_the_peer_keeps_the_connection(peer, chats):
    async def script(_request: web.Request, resp: web.StreamResponse) -> None:
        await resp.write((event("one") + "data: [DONE]\n\n" + event("after done")).encode())
        await peer.release.wait()  # nothing more, connection held open

    peer.script = script
    assert await collect(chats(peer.base_url)) == ["one"]


async def test_body_ending_without_done_is_an_error_after_its_pieces(peer, chats):
    # llama_cpp.server answers 200 and then just closes when generation fails (e.g. a prompt
    # over the context): without [DONE] a cut-off answer must not pass for a whole one.
    peer.script = writes(event("cut"), event(" off"))
    got: list[str] = []
    with pytest.raises(LLMError, match=r"\[DONE\]") as info:
        async for piece in chats(peer.base_url).stream(USER):
            got.append(piece)
    assert got == ["cut", " off"]
    assert f"{peer.base_url}/chat/completions" in str(info.value)


async def test_malformed_and_non_data_lines_are_skipped(peer, chats):
    peer.script = writes(
        ": ping - keep-alive comment\n\n",
        "event: message\nid: 7\nretry: 1000\n\n",
        "data: {not json\n\n",
        "data: \n\n",
        "data: []\n\n",
        'data: {"choices": []}\n\n',
        'data: {"object": "chat.completion.chunk"}\n\n',
        event(role="assistant"),  # the role-only first chunk
        event(""),
        'data: {"choices": [{"delta": {"content": null}, "finish_reason": "stop"}]}\n\n',
        "data:" + json.dumps({"choices": [{"delta": {"content": "ok"}}]}) + "\r\n\r\n",
        "data: [DONE]\n\n")
    assert await collect(chats(peer.base_url)) == ["ok"]


@pytest.mark.parametrize("line", [
    '{"choices": [null]}',
    '{"choices": ["text"]}',
    '{"choices": [{"delta": "text"}]}',
    '{"choices": [{"delta": {"content": 7}}]}',
    '{"choices": [{"delta": {"content": ["a"]}}]}',
])
async def test_json_of_the_wrong_shape_is_skipped_not_fatal(peer, chats, line):
    peer.script = writes(f"data: {line}\n\n", event("fine"), "data: [DONE]\n\n")
    pieces = await collect(chats(peer.base_url))
    assert pieces == ["fine"]
    assert all(isinstance(p, str) for p in pieces)


async def test_a_peer_that_failed_and_dropped_its_connection_does_not_fail_the_next_turn(
        peer, chats):
    # llama_cpp.server after a failed generation: the answer ends, then its connection closes
    # while aiohttp keeps it in the pool; the next request must not die on that connection.
    chat = chats(peer.base_url)
    peer.script, peer.drop_after_answer = writes(event("half")), True
    with contextlib.suppress(LLMError):  # the cut-off answer itself: see the test above
        await collect(chat)
    peer.script, peer.drop_after_answer = writes(event("next"), "data: [DONE]\n\n"), False
    assert await collect(chat) == ["next"]


@pytest.mark.parametrize("status", [400, 401, 404, 500, 503])
async def test_non_200_raises_llm_error_with_status_and_body(peer, chats, status):
    peer.status = status
    with pytest.raises(LLMError) as info:
        await collect(chats(peer.base_url))
    message = str(info.value)
    assert str(status) in message
    assert f"{peer.base_url}/chat/completions" in message
    assert "not loaded" in message  # the endpoint's own words help the person reading it


async def test_authorization_header_sent_only_with_api_key(peer, chats):
    peer.script = writes(event("x"), "data: [DONE]\n\n")
    await collect(chats(peer.base_url, api_key="sk-local-123"))
    await collect(chats(peer.base_url))
    with_key, without_key = (headers for headers, _body in peer.requests)
    assert with_key.get("Authorization") == "Bearer sk-local-123"
    assert "Authorization" not in without_key


async def test_request_body_carries_model_messages_and_limits(peer, chats):
    peer.script = writes("data: [DONE]\n\n")
    chat = chats(peer.base_url + "/", model="qwen-small", max_tokens=50, temperature=0.3)
    await collect(chat)
    await collect(chat, max_tokens=9, temperature=0.0)
    (_, default), (_, explicit) = peer.requests
    assert default == {"model": "qwen-small", "messages": USER, "stream": True,
                       "max_tokens": 50, "temperature": 0.3}
    assert explicit["max_tokens"] == 9 and explicit["temperature"] == 0.0


async def test_nothing_listening_raises_llm_error_naming_the_url(chats):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(LLMError, match="unreachable") as info:
        await collect(chats(base))
    assert base in str(info.value)


async def test_a_silent_endpoint_times_out_as_llm_error(peer, chats):
    async def script(_request: web.Request, _resp: web.StreamResponse) -> None:
        await peer.release.wait()  # headers sent, then nothing at all

    peer.script = script
    with pytest.raises(LLMError):
        await collect(chats(peer.base_url, timeout_s=1.0))


async def test_timeout_bounds_silence_not_the_whole_answer(peer, chats):
    # A slow but steady endpoint: every gap is well under timeout_s, the whole answer is not.
    peer.script = writes(*(event(f"w{i} ") for i in range(6)), "data: [DONE]\n\n", gap_s=0.3)
    pieces = await collect(chats(peer.base_url, timeout_s=1.0))
    assert "".join(pieces) == "w0 w1 w2 w3 w4 w5 "


async def test_stream_works_again_after_close(peer, chats):
    peer.script = writes(event("again"), "data: [DONE]\n\n")
    chat = chats(peer.base_url)
    assert await collect(chat) == ["again"]
    await chat.close()
    assert await collect(chat) == ["again"]


# --- LlamaChat with a fake model ---------------------------------------------------------------

class EndlessLlama:
    """Yields "x" tokens until `stop` is set: a request that lasts as long as the test wants."""

    def __init__(self) -> None:
        self.stop = threading.Event()

    def create_chat_completion(self, **_kw: object) -> Iterator[dict]:
        while not self.stop.wait(0.005):
            yield {"choices": [{"delta": {"content": "x"}}]}


async def test_llama_request_dropped_while_queued_leaves_no_loop_error():
    # Assistant.close() closes the LLM worker, dropping queued requests; a request whose caller
    # already hung up is then cancelled in the pool, and that must not be reported as an error.
    loop = asyncio.get_running_loop()
    errors: list[dict] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    model, worker = EndlessLlama(), Worker("llm")
    chat = LlamaChat(model, LlmSettings(), worker)
    try:
        busy = chat.stream(USER)  # holds the only worker thread
        assert await asyncio.wait_for(anext(busy), 5) == "x"
        queued = asyncio.create_task(anext(chat.stream(USER)))
        await asyncio.sleep(0.05)
        queued.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await queued
        worker.close()
        await busy.aclose()
        model.stop.set()
        await asyncio.sleep(0.1)  # let the futures' callbacks run
    finally:
        model.stop.set()
        loop.set_exception_handler(previous)
    assert not errors, [c.get("message") for c in errors]


class ScriptedLlama:
    """Answers every request with the same pieces, or raises."""

    def __init__(self, pieces: list[str], error: Exception | None = None) -> None:
        self.pieces, self.error = pieces, error

    def create_chat_completion(self, **_kw: object) -> Iterator[dict]:
        if self.error is not None:
            raise self.error
        for piece in self.pieces:
            yield {"choices": [{"delta": {"content": piece}}]}


async def test_llama_stream_reports_when_its_worker_began():
    ticks = iter(range(100, 10_000, 100))
    worker = Worker("llm", clock=lambda: next(ticks))
    chat = LlamaChat(ScriptedLlama(["Hel", "lo."]), LlmSettings(), worker)
    timing = StreamTiming()
    try:
        assert [p async for p in chat.stream(USER, timing=timing)] == ["Hel", "lo."]
    finally:
        worker.close()
    assert timing.started_ns == 100  # stamped on the worker thread, before the model ran


async def test_llama_failure_is_an_llm_error_and_a_closed_worker_too():
    worker = Worker("llm")
    chat = LlamaChat(ScriptedLlama([], error=ValueError("bad gguf")), LlmSettings(), worker)
    with pytest.raises(LLMError, match="bad gguf"):
        await collect(chat)
    worker.close()
    with pytest.raises(LLMError, match="not available"):
        await collect(chat)


async def test_an_answer_broken_off_before_its_first_word_is_asked_again_once(peer, chats):
    chat = chats(peer.base_url)
    broken = [True]

    async def script(request: web.Request, resp: web.StreamResponse) -> None:
        if broken.pop() if broken else False:
            request.transport.abort()  # headers sent, then the connection dies mid-body
            return
        await resp.write((event("fine") + "data: [DONE]\n\n").encode())

    peer.script = script
    assert await collect(chat) == ["fine"]
    assert len(peer.requests) == 2


async def test_an_answer_broken_off_after_words_is_an_error_not_a_repeat(peer, chats):
    chat = chats(peer.base_url)

    async def script(request: web.Request, resp: web.StreamResponse) -> None:
        await resp.write(event("half").encode())
        await asyncio.sleep(0.05)
        request.transport.abort()

    peer.script = script
    pieces: list[str] = []
    with pytest.raises(LLMError):
        async for piece in chat.stream(USER):
            pieces.append(piece)
    assert pieces == ["half"] and len(peer.requests) == 1
