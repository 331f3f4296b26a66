"""TomServer's lifecycle: a start that fails half-way leaves nothing running; stop is idempotent.

Each test starts a real server (real models, a Redis mirror pointed at a closed port) and then
checks what is left: asyncio tasks, Python threads, bus subscribers, listeners.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tomtest import e2e_settings

from tom.config import ConfigError, Settings
from tom.models import ModelError
from tom.server import ServerStartError, TomServer

pytestmark = pytest.mark.e2e

LOOP_EXECUTOR = "asyncio_"  # the event loop's own worker threads (asyncio.to_thread) outlive us


@contextlib.contextmanager
def taken_port() -> Iterator[int]:
    """A port some other program is listening on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def closed_port() -> int:
    """A port nobody listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_for(tmp_path: Path, **sections: dict[str, object]) -> Settings:
    sections.setdefault("redis", {"url": f"redis://127.0.0.1:{closed_port()}/0"})
    return e2e_settings(tmp_path, **sections)


class Leftovers:
    """What was running before a server started, to compare with what runs after it is gone."""

    def __init__(self) -> None:
        self.tasks = set(asyncio.all_tasks())
        self.threads = set(threading.enumerate())

    def new_tasks(self) -> list[asyncio.Task[object]]:
        return [t for t in asyncio.all_tasks() - self.tasks if t is not asyncio.current_task()]

    def new_threads(self) -> list[threading.Thread]:
        new = [t for t in set(threading.enumerate()) - self.threads
               if not t.name.startswith(LOOP_EXECUTOR)]
        for thread in new:  # a shut-down pool's idle worker exits once it sees the shutdown
            thread.join(timeout=30)
        return [t for t in new if t.is_alive()]


def assert_nothing_left(server: TomServer, before: Leftovers) -> None:
    assert server.bus.subscriber_count == 0, "the Redis mirror is still subscribed"
    assert server.runner is None and server.url == "" and server.port == 0
    assert server.retention._task is None
    assert before.new_tasks() == []
    assert before.new_threads() == []


@pytest.mark.parametrize("taken", ["http", "audiosocket"])
async def test_start_on_a_taken_port_names_it_and_unwinds_everything(tmp_path: Path,
                                                                     taken: str) -> None:
    """The pre-flight found the port free; another program takes it while the models load."""
    port = closed_port()
    section = "server" if taken == "http" else "audiosocket"
    server = TomServer(settings_for(tmp_path, **{section: {"port": port}}))
    before = Leftovers()
    other: list[socket.socket] = []

    def take_the_port(_stage: str, _name: str) -> None:
        if not other:  # the first model loads: the pre-flight has passed
            other.append(socket.socket())
            other[0].bind(("127.0.0.1", port))
            other[0].listen()

    try:
        with pytest.raises(ServerStartError) as info:
            await server.start(take_the_port)
    finally:
        for sock in other:
            sock.close()
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message and "address already in use" in message
    assert ("HTTP" in message and "server.port" in message) if taken == "http" else \
        ("AudioSocket" in message and "audiosocket.port" in message)
    assert server.assistant.loaded, "the models had loaded before the listener failed"
    assert_nothing_left(server, before)
    await server.stop()  # after a failed start: nothing to do, no error


async def test_a_model_that_fails_to_load_stops_the_models_already_loaded(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"this is not a GGUF file")
    server = TomServer(settings_for(tmp_path, llm={"model_path": str(broken)}))
    before = Leftovers()
    with pytest.raises(ModelError, match="llm model .*broken.gguf"):
        await server.start()
    assert set(server.assistant.loaded) == {"vad", "stt"}  # loaded, then shut down again
    assert_nothing_left(server, before)


async def test_a_bad_redis_url_says_so_before_loading_any_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"redis\.url = 'bogus://localhost'"):
        settings_for(tmp_path, redis={"url": "bogus://localhost"})
    settings = settings_for(tmp_path)
    settings.redis.url = "bogus://localhost"  # past validation: the mirror still says so
    server = TomServer(settings)
    before = Leftovers()
    with pytest.raises(ServerStartError, match=r"redis\.url = 'bogus://localhost'"):
        await server.start()
    assert server.assistant.loaded == {}
    assert_nothing_left(server, before)


async def test_stop_ends_everything_and_may_be_called_again(tmp_path: Path) -> None:
    server = TomServer(settings_for(tmp_path))
    before = Leftovers()
    async with server:
        assert server.bus.subscriber_count == 1 and server.port > 0
        with pytest.raises(RuntimeError, match="already started"):
            await server.start()
        port = server.port
        await server.stop()
        assert_nothing_left(server, before)
        with pytest.raises(OSError):  # the HTTP listener is closed
            await asyncio.open_connection("127.0.0.1", port)
    # leaving the block called stop() a second time: nothing to do, no error


def test_tom_serve_on_a_taken_port_explains_without_a_traceback(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TOM_")}
    clean.update({"TOM_DATA_DIR": str(tmp_path / "data"), "TOM_AUDIOSOCKET_ENABLED": "false",
                  "TOM_LLM_THREADS": "1", "TOM_STT_THREADS": "1", "TOM_LOG_FORMAT": "json"})
    with taken_port() as port:
        done = subprocess.run([sys.executable, "-m", "tom.cli", "serve", "--port", str(port)],
                              cwd=tmp_path, env=clean, capture_output=True, text=True,
                              encoding="utf-8", timeout=300)
    assert done.returncode == 2, done.stderr
    assert f"tom serve: cannot start: cannot listen for HTTP on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
