"""`tom serve` on a broken machine or with a bad setting: exit 2, one readable line, no traceback,
and no model loaded first (issue 17, finding 6).

Each case runs the real CLI in a subprocess; a pre-flight that works fails in seconds, before the
models load. TomServer.start runs the same pre-flight, checked here without a subprocess.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tomtest import e2e_settings

from tom.security.startup import StartupError
from tom.server import TomServer

pytestmark = pytest.mark.e2e

# /proc/self is a directory nobody, not even root, can create files in.
UNWRITABLE_DIR = "/proc/self"


@contextmanager
def listening() -> Iterator[int]:
    """A port some other program is listening on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def tom(tmp_path: Path, *args: str, config: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TOM_")}
    clean.update({"TOM_DATA_DIR": str(tmp_path / "data"), "TOM_SERVER_PORT": "0",
                  "TOM_AUDIOSOCKET_PORT": "0", "TOM_LLM_THREADS": "1", "TOM_STT_THREADS": "1",
                  "TOM_LOG_FORMAT": "json", **env})
    argv = [sys.executable, "-m", "tom.cli"]
    if config is not None:
        file = tmp_path / "tom.toml"
        file.write_text(config, encoding="utf-8")
        argv += ["--config", str(file)]
    return subprocess.run([*argv, *args], cwd=tmp_path, env=clean, capture_output=True,
                          text=True, encoding="utf-8", timeout=120)


def assert_one_line(done: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 2, exactly one line on stderr that names `words`, nothing loaded, no traceback."""
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output
    assert "loading model" not in output, "the check must come before the models load"
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def test_an_unwritable_data_dir(tmp_path: Path) -> None:
    done = tom(tmp_path, "serve", TOM_DATA_DIR=UNWRITABLE_DIR)
    assert_one_line(done, "tom serve: cannot start:", f"data.dir = '{UNWRITABLE_DIR}'",
                    "not writable", "TOM_DATA_DIR")


def test_a_data_dir_that_is_a_file(tmp_path: Path) -> None:
    file = tmp_path / "data"
    file.write_text("not a directory", encoding="utf-8")
    done = tom(tmp_path, "serve")
    assert_one_line(done, f"data.dir = '{file}'", "is a file, not a directory")
    below = tom(tmp_path, "serve", TOM_DATA_DIR=str(file / "runtime"))
    assert_one_line(below, "cannot create it", "not a directory")


def test_a_corrupt_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "tom.db").write_bytes(b"this was a database once\x00" * 400)
    for command in (["serve"], ["talk", "--wav", str(tmp_path / "missing.wav")]):
        done = tom(tmp_path, *command)
        assert_one_line(done, f"tom {command[0]}: cannot start:", str(data / "tom.db"),
                        "corrupt", "move the file away")


def test_a_healthy_database_passes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with sqlite3.connect(data / "tom.db") as db:
        db.execute("CREATE TABLE t (x)")
    db.close()
    done = tom(tmp_path, "talk", "--wav", str(tmp_path / "missing.wav"))
    assert done.returncode == 2 and "missing.wav does not exist" in done.stderr, done.stderr


@pytest.mark.parametrize("which", ["http", "audiosocket"])
def test_a_port_in_use(tmp_path: Path, which: str) -> None:
    with listening() as port:
        if which == "http":
            done = tom(tmp_path, "serve", "--port", str(port))
            words = [f"cannot listen for HTTP on 127.0.0.1:{port}", "address already in use",
                     "server.port"]
        else:
            done = tom(tmp_path, "serve", TOM_AUDIOSOCKET_PORT=str(port))
            words = [f"cannot listen for AudioSocket on 127.0.0.1:{port}", "audiosocket.port"]
    assert_one_line(done, "tom serve: cannot start:", *words)


@pytest.mark.parametrize("env,words", [
    ({"TOM_AUDIOSOCKET_ALLOWED_SOURCES": "not-an-ip"}, ["audiosocket.allowed_sources",
                                                        "'not-an-ip'"]),
    ({"TOM_REDIS_URL": "notaurl"}, ["redis.url = 'notaurl'", "redis://"]),
    ({"TOM_CALL_MAX_DURATION_S": "nan"}, ["call.max_duration_s = nan", "finite"]),
    ({"TOM_DATA_DIR": ""}, ["data.dir = ''", "empty"]),
])
def test_a_bad_setting(tmp_path: Path, env: dict[str, str], words: list[str]) -> None:
    assert_one_line(tom(tmp_path, "serve", **env), "tom: bad configuration:", *words)


def test_a_section_that_is_not_a_table_with_host_and_port(tmp_path: Path) -> None:
    for args in (["serve"], ["serve", "--host", "127.0.0.1", "--port", "8123"], ["models"]):
        done = tom(tmp_path, *args, config="server = 5\n")
        assert_one_line(done, "tom: bad configuration:", "server = 5", "[server] section")


async def test_tom_server_checks_before_loading_any_model(tmp_path: Path) -> None:
    with listening() as port:
        server = TomServer(e2e_settings(tmp_path, audiosocket={"port": port}))
        with pytest.raises(StartupError, match=f"AudioSocket on 127.0.0.1:{port}"):
            await server.start()
    assert server.assistant.loaded == {} and server.port == 0
    (tmp_path / "data").rmdir()
    (tmp_path / "data").write_text("a file", encoding="utf-8")
    server = TomServer(e2e_settings(tmp_path))
    with pytest.raises(StartupError, match="is a file, not a directory"):
        await server.start()
    assert server.assistant.loaded == {}
