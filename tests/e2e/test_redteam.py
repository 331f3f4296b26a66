"""Red-team (issue 17): the abuse that once hurt TOM, replayed against a real server on loopback.

One TomServer for the module, two lines, its logs captured as JSON. Each attack comes from its
own 127.0.0.x so per-source limits touch the attacker only. Across the whole run: no traceback
in the logs, every error a named kind (never `internal`), and a good call still served at the
end. Start-up mistakes are checked on `python -m tom.cli` subprocesses: exit 2, one line.
`make redteam` runs this file; it takes a few minutes on two cores.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from tomtest import e2e_settings, running_server

from tom.bench import abuse
from tom.bench import twilio_caller as tc
from tom.bench.caller import CallResult, Timeouts, place_call, stream_url
from tom.monitor import events as ev
from tom.monitor.logging import configure_logging
from tom.server import TomServer
from tom.telephony import audiosocket_wire as aw

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(180)]

LINES = 2
IDLE_WATCH_S = 45.0  # an idle connection still open after this was never going to be closed
STARTUP_S = 40  # a start-up mistake is reported before the models load, in a few seconds
PATIENT = Timeouts(greeting_s=15, answer_s=15)


class RedTeam:
    """The server under attack, every CallError it published and every log line it wrote."""

    def __init__(self, server: TomServer, logs: io.StringIO) -> None:
        self.server = server
        self.logs = logs
        self.errors: list[ev.CallError] = []
        self._changed = asyncio.Event()
        server.bus.listen(self._on_event)

    def _on_event(self, event: ev.Event) -> None:
        self._changed.set()
        if isinstance(event, ev.CallError):
            self.errors.append(event)

    @property
    def url(self) -> str:
        return self.server.url

    def errors_since(self, mark: int, call_id: str | None = None) -> list[ev.CallError]:
        return [e for e in self.errors[mark:] if call_id is None or e.call_id == call_id]

    def log_lines(self) -> list[dict]:
        out = []
        for line in self.logs.getvalue().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"event": line, "level": "raw"})
        return out

    async def live_calls(self, n: int, limit_s: float = 15.0) -> None:
        async with asyncio.timeout(limit_s):
            while len(self.server.assistant.registry.active) < n:
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture(scope="module")
async def rt(tmp_path_factory) -> AsyncIterator[RedTeam]:
    logs = io.StringIO()
    configure_logging("json", "info", stream=logs)
    settings = e2e_settings(tmp_path_factory.mktemp("redteam"),
                            server={"max_calls": LINES}, call={"reprompt_after_s": 120})
    try:
        async with running_server(settings) as server:
            yield RedTeam(server, logs)
    finally:
        configure_logging("auto", "info")  # later modules log to stderr again


def named(errors: list[ev.CallError]) -> list[str]:
    """Kinds that are not a named failure (what the whole run must never produce)."""
    return [f"{e.kind}: {e.message}" for e in errors
            if not e.kind or e.kind == "internal" or not e.kind.replace("_", "").isalpha()]


# --- 1 + 2: refusal storm, refused callers hanging up --------------------------------------------


async def test_refusal_storm_does_not_delay_a_caller_on_the_line(rt: RedTeam, turn) -> None:
    mark = len(rt.errors)
    async with abuse.held_line(rt.url, "127.0.0.2"):
        await rt.live_calls(1)
        victim = asyncio.create_task(place_call(
            rt.url, [turn("Where are you located?"), turn("What are your opening hours?")],
            timeouts=Timeouts(greeting_s=15, answer_s=8)))  # an answer normally takes < 1 s
        await rt.live_calls(LINES)
        storm = await abuse.refusal_storm(rt.url, "127.0.0.3", 57, parallel=57)
        result: CallResult = await victim
    assert result.ok, f"{result.failure}; storm: {storm}"
    assert all(t.answered for t in result.turns)
    assert storm["open"] == 0, storm  # every refused connection was closed by TOM
    refused = rt.errors_since(mark, call_id="")
    assert not named(refused), named(refused)


async def test_refused_callers_hanging_up_are_not_internal_errors(rt: RedTeam) -> None:
    mark = len(rt.errors)
    async with abuse.held_line(rt.url, "127.0.0.4"), abuse.held_line(rt.url, "127.0.0.5"):
        await rt.live_calls(LINES)
        async with abuse.client_from("127.0.0.6") as http:
            seen = [await abuse.refused_call(http, rt.url, hang_up_at_once=True)
                    for _ in range(6)]
        await asyncio.sleep(1.0)  # let TOM notice the vanished peers
    assert set(seen) <= {"hung_up", "http_429", "http_503", "closed_1000", "closed_1008"}, seen
    errors = rt.errors_since(mark)
    assert not named(errors), named(errors)


# --- 3: media floods -----------------------------------------------------------------------------


@pytest.mark.parametrize("frame_bytes, frames", [(abuse.BIG_FRAME, 80), (abuse.SMALL_FRAME, 3000)],
                         ids=["big", "small"])
async def test_media_flood_ends_that_call_once_and_spares_the_other(
        rt: RedTeam, turn, frame_bytes: int, frames: int) -> None:
    mark = len(rt.errors)
    flood_sid = f"CAflood{frame_bytes}"
    good = asyncio.create_task(place_call(rt.url, [turn("Where are you located?")],
                                          timeouts=PATIENT))
    await rt.live_calls(1)
    outcome = await abuse.media_flood(rt.url, "127.0.0.7", frame_bytes=frame_bytes,
                                      frames=frames, call_sid=flood_sid)
    result = await good
    assert outcome.startswith("closed_"), outcome  # TOM ended the flooding call
    mine = rt.errors_since(mark, call_id=flood_sid)
    assert [e.kind for e in mine] in (["overload"], ["protocol"]), \
        [(e.kind, e.message) for e in mine]
    assert result.ok, result.failure
    assert not named(rt.errors_since(mark)), named(rt.errors_since(mark))
    lines = [x for x in rt.log_lines() if x.get("call_id") == flood_sid
             and x.get("level") in ("warning", "error")]
    assert len(lines) <= 2, lines  # one reason, not one line per frame


# --- 4: idle connections -------------------------------------------------------------------------


async def test_idle_connections_are_closed(rt: RedTeam) -> None:
    host = "127.0.0.1"
    http_port = int(rt.url.rsplit(":", 1)[1])
    found = await asyncio.gather(
        abuse.idle_websocket(rt.url, "127.0.0.8", IDLE_WATCH_S),
        abuse.idle_tcp(host, rt.server.audiosocket.port, "127.0.0.9", IDLE_WATCH_S),
        abuse.trickled_headers(host, http_port, "127.0.0.10", IDLE_WATCH_S))
    still_open = [i.what for i in found if i.closed_after_s is None]
    assert not still_open, f"still open after {IDLE_WATCH_S:g} s: {still_open}"


# --- 7: a second connection reusing a live call id -----------------------------------------------


async def test_twilio_duplicate_call_sid_is_refused_and_the_live_call_untouched(
        rt: RedTeam) -> None:
    mark = len(rt.errors)
    sid = "CAdup" + uuid.uuid4().hex[:12]
    async with abuse.client_from("127.0.0.11") as http:
        live = await http.ws_connect(stream_url(rt.url), heartbeat=None)
        await live.send_str(tc.connected_message())
        await live.send_str(tc.start_message("MZlive", sid, {"caller": "+15550111"}))
        await rt.live_calls(1)
        async with http.ws_connect(stream_url(rt.url), heartbeat=None) as dup:
            await dup.send_str(tc.connected_message())
            await dup.send_str(tc.start_message("MZdup", sid, {"caller": "+15550112"}))
            async with asyncio.timeout(10):
                async for _ in dup:
                    pass
            assert dup.close_code == 1008
        assert not live.closed and rt.server.assistant.registry.live(sid) is not None
        await live.send_str(tc.stop_message("MZlive", sid))
        await live.close()
    errors = rt.errors_since(mark)
    assert [e.kind for e in errors] == ["duplicate_call"], [(e.kind, e.message) for e in errors]


async def test_audiosocket_duplicate_uuid_is_refused_and_the_live_call_untouched(
        rt: RedTeam) -> None:
    mark = len(rt.errors)
    call_id = uuid.uuid4()
    port = rt.server.audiosocket.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.12", 0))
    writer.write(aw.encode_uuid(call_id) + aw.encode_audio(bytes(320)))
    await rt.live_calls(1)
    r2, w2 = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.12", 0))
    w2.write(aw.encode_uuid(call_id) + aw.encode_audio(bytes(320)))
    async with asyncio.timeout(10):
        while await r2.read(4096):
            pass
    w2.close()
    assert rt.server.assistant.registry.live(str(call_id)) is not None
    writer.write(aw.encode_audio(bytes(320)) + aw.encode_hangup())
    await writer.drain()
    writer.close()
    errors = rt.errors_since(mark)
    assert [e.kind for e in errors] == ["duplicate_call"], [(e.kind, e.message) for e in errors]


# --- 8: the browser socket checks Origin ---------------------------------------------------------


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1"])
async def test_browser_socket_refuses_a_foreign_origin(rt: RedTeam, origin: str) -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            async with http.ws_connect(rt.url.replace("http", "ws", 1) + "/ws/browser",
                                       headers={"Origin": origin}):
                pass
    assert info.value.status == 403


async def test_browser_socket_takes_its_own_origin(rt: RedTeam) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(rt.url.replace("http", "ws", 1) + "/ws/browser",
                                   headers={"Origin": rt.url}) as ws:
            first = await ws.receive_json(timeout=15)
            assert first["type"] == "started"
            await ws.send_json({"type": "hangup"})


# --- 5 + 6: bad settings and start-up errors ----------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Raw(str):
    """A TOML value written as is (nan, inf), not quoted."""


def _toml(value: object) -> str:
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def _config(tmp: Path, data_dir: Path | str | None = None, **sections: dict) -> Path:
    """A config with free ports and its own data dir, plus `sections` (raw TOML values)."""
    base: dict[str, dict] = {
        "server": {"port": _free_port()}, "audiosocket": {"port": _free_port()},
        "data": {"dir": str(tmp / "data") if data_dir is None else str(data_dir)}}
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    text = "\n".join(f"[{name}]\n" + "\n".join(f"{k} = {_toml(v)}" for k, v in values.items())
                     for name, values in base.items())
    path = tmp / "tom.toml"
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _serve(config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env = {k: v for k, v in env.items() if not k.startswith("TOM_")}
    try:
        return subprocess.run([sys.executable, "-m", "tom.cli", "--config", str(config), "serve",
                               *extra], capture_output=True, text=True, timeout=STARTUP_S,
                              env=env, check=False, cwd=config.parent)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`tom serve` still running after {STARTUP_S} s: the mistake slipped through")


def _assert_one_line_exit_2(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    said = (proc.stdout + proc.stderr).strip()
    assert "Traceback" not in said, said
    assert proc.returncode == 2, (proc.returncode, said)
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0], (word, lines[0])


BAD_SETTINGS = {
    "max_duration_nan": ({"call": {"max_duration_s": "nan"}}, "max_duration_s"),
    "vad_threshold_nan": ({"vad": {"threshold": "nan"}}, "threshold"),
    "vad_threshold_inf": ({"vad": {"threshold": "inf"}}, "threshold"),
    "allowed_sources": ({"audiosocket": {"allowed_sources": ["not-an-ip"]}}, "not-an-ip"),
    "redis_url": ({"redis": {"url": "notaurl"}}, "notaurl"),
    "webhook_url": ({"data": {"webhook_url": "not a url"}}, "webhook_url"),
}


@pytest.mark.parametrize("case", BAD_SETTINGS)
def test_bad_setting_exits_2_with_one_line(tmp_path: Path, case: str) -> None:
    sections, word = BAD_SETTINGS[case]
    raw = {name: {k: _Raw(v) if v in ("nan", "inf") else v for k, v in values.items()}
           for name, values in sections.items()}
    _assert_one_line_exit_2(_serve(_config(tmp_path, **raw)), word)


def test_empty_data_dir_exits_2(tmp_path: Path) -> None:
    proc = _serve(_config(tmp_path, data_dir=""))  # runs in tmp_path
    _assert_one_line_exit_2(proc, "data.dir")
    assert not (tmp_path / "tom.db").exists()


def test_data_dir_that_is_a_file_exits_2(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("not a directory\n", encoding="utf-8")
    _assert_one_line_exit_2(_serve(_config(tmp_path, data_dir=blocker)), str(blocker))


def test_unwritable_data_dir_exits_2(tmp_path: Path) -> None:
    # /proc refuses new directories even to root, so this holds whoever runs the tests
    _assert_one_line_exit_2(_serve(_config(tmp_path, data_dir="/proc/tom-redteam")),
                            "/proc/tom-redteam")


def test_corrupt_database_exits_2(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "tom.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(sqlite3.DatabaseError):  # the file really is corrupt
        sqlite3.connect(data / "tom.db").execute("select * from sqlite_master").fetchall()
    _assert_one_line_exit_2(_serve(_config(tmp_path, data_dir=data)), "tom.db")


@pytest.mark.parametrize("section", ["server", "audiosocket"])
def test_port_in_use_exits_2(tmp_path: Path, section: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = _config(tmp_path, **{section: {"port": port}})
        _assert_one_line_exit_2(_serve(config), str(port))


def test_wrongly_typed_section_with_host_and_port_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "tom.toml"
    config.write_text(f'server = 5\n[data]\ndir = "{tmp_path / "data"}"\n', encoding="utf-8")
    _assert_one_line_exit_2(_serve(config, "--host", "127.0.0.1", "--port", str(_free_port())),
                            "server")


# --- across the whole run (keep these last) -----------------------------------------------------


async def test_zz_a_good_call_is_still_served(rt: RedTeam, turn) -> None:
    result = await place_call(rt.url, [turn("Where are you located?")], timeouts=PATIENT)
    assert result.ok, result.failure
    assert result.turns[0].answered


def test_zz_no_traceback_and_every_error_named(rt: RedTeam) -> None:
    lines = rt.log_lines()
    assert lines, "the red-team captured no logs"
    traced = [x for x in lines if "Traceback" in json.dumps(x) or x.get("exception")]
    assert not traced, traced[:3]
    assert not named(rt.errors), named(rt.errors)
    internal = [x for x in lines if x.get("kind") == "internal"]
    assert not internal, internal[:3]
