"""The dashboard in a real browser (headless chromium) against a real TOM.

Scenario A: an operator has the dashboard open while a phone call comes in over the Twilio
protocol; the call, its transcript (with a German line) and its latency waterfall must show up.
Scenario B: "Talk to TOM" with chromium's fake microphone playing a WAV; TOM's answer must reach
the page. Scenario C: a blocked or missing microphone gives a message that says what to do.
The browser side lives in tests/e2e/browser/*.mjs (playwright-core from dashboard/);
screenshots go to test-artifacts/.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "dashboard"
DIST = DASHBOARD / "dist"
SCRIPTS = Path(__file__).resolve().parent / "browser"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
NODE = shutil.which("node")

# TOM has no German voice or German caller audio in this test, so the German line is put on the
# event bus by the test itself (as the transcript stage would) while the real call is running.
GERMAN_LINE = "Grüß Gott! Können Sie mir die Öffnungszeiten für Übermorgen sagen? Schöne Grüße, Jürgen Weiß"
QUESTION = "What time do you open on Saturday?"
BROWSER_QUESTION = "What time do you open on Saturday?"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"chromium not found at {CHROMIUM} (apt install chromium, or set CHROMIUM_PATH)"),
    pytest.mark.skipif(NODE is None, reason="node is not on PATH; the browser scripts need Node 20+"),
    pytest.mark.skipif(not (DASHBOARD / "node_modules" / "playwright-core").is_dir(),
                       reason="dashboard dependencies missing: run `npm ci` in dashboard/"),
]


def _dist_is_stale() -> bool:
    index = DIST / "index.html"
    if not index.is_file():
        return True
    built = index.stat().st_mtime
    sources = [DASHBOARD / "index.html", *(p for p in (DASHBOARD / "src").rglob("*") if p.is_file())]
    return any(p.stat().st_mtime > built for p in sources)


@pytest.fixture(scope="module")
def dashboard_dist() -> Path:
    """The built dashboard; rebuilt when a source file is newer than the build."""
    if _dist_is_stale():
        import subprocess

        proc = subprocess.run(["npm", "run", "build"], cwd=DASHBOARD, capture_output=True,
                              text=True, encoding="utf-8", timeout=300)
        assert proc.returncode == 0, f"dashboard build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return DIST


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tom(dashboard_dist: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator:
    server_module = pytest.importorskip(
        "tom.server", reason="tom.server (TomServer) is not importable yet; the dashboard e2e needs it")
    from tom.config import Settings

    settings = Settings.load()
    settings.server.port = 0
    settings.server.dashboard_dir = str(dashboard_dist)
    settings.audiosocket.enabled = False
    settings.data.dir = str(tmp_path_factory.mktemp("tom-data"))
    settings.redis.url = ""
    async with server_module.TomServer(settings) as server:
        yield server


class BrowserScript:
    """One node scenario script: JSON lines on stdout, the last one the result."""

    def __init__(self, script: str, env: dict[str, str]) -> None:
        self.script = SCRIPTS / script
        self.env = {**os.environ, "ARTIFACTS_DIR": str(ARTIFACTS), "CHROMIUM_PATH": CHROMIUM, **env}
        self.events: list[dict] = []
        self.stderr = b""
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            NODE, str(self.script), cwd=REPO, env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)

    async def wait_for(self, event: str, limit_s: float) -> dict:
        """Read lines until `event` (or a result, which means the script gave up early)."""
        assert self.proc is not None and self.proc.stdout is not None
        async with asyncio.timeout(limit_s):
            while True:
                line = await self.proc.stdout.readline()
                if not line:
                    raise AssertionError(f"{self.script.name} exited before {event!r}: "
                                         f"{await self._stderr()}")
                with contextlib.suppress(ValueError):
                    message = json.loads(line)
                    self.events.append(message)
                    if message.get("event") in (event, "result"):
                        return message

    async def result(self, limit_s: float) -> dict:
        message = await self.wait_for("result", limit_s)
        assert self.proc is not None
        await asyncio.wait_for(self.proc.wait(), 30)
        report = json.dumps(message, ensure_ascii=False, indent=1)
        assert message.get("ok"), f"{self.script.name} failed: {report}\n{await self._stderr()}"
        assert self.proc.returncode == 0
        return message

    async def _stderr(self) -> str:
        assert self.proc is not None and self.proc.stderr is not None
        with contextlib.suppress(TimeoutError):
            self.stderr += await asyncio.wait_for(self.proc.stderr.read(), 5)
        return self.stderr.decode("utf-8", "replace")[-3000:]

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


class EventLog:
    """Every bus event while the test runs, for assertions from the server's side."""

    def __init__(self, bus) -> None:
        self.events: list = []
        self._arrived = asyncio.Event()
        bus.listen(self._on_event)

    def _on_event(self, event) -> None:
        self.events.append(event)
        self._arrived.set()

    def of(self, cls: type, call_id: str | None = None) -> list:
        return [e for e in self.events
                if isinstance(e, cls) and (call_id is None or e.call_id == call_id)]

    async def wait(self, predicate, limit_s: float) -> None:
        async with asyncio.timeout(limit_s):
            while not predicate():
                self._arrived.clear()
                await self._arrived.wait()


def _file_sizes(paths: list[str]) -> list[int]:
    return [Path(p).stat().st_size if Path(p).is_file() else 0 for p in paths]


def pcm16(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


async def test_dashboard_shows_a_live_phone_call(tom, speech) -> None:
    from tom.bench.caller import CallerTurn, place_call
    from tom.monitor import events as ev

    log = EventLog(tom.bus)
    browser = BrowserScript("scenario_a_dashboard.mjs", {
        "TOM_URL": f"{tom.url}/", "EXPECT_GERMAN": GERMAN_LINE, "TIMEOUT_MS": "150000"})
    await browser.start()
    try:
        await browser.wait_for("ready", 60)
        silence = np.zeros(8000 // 2, np.float32)
        turn = CallerTurn(audio=pcm16(np.concatenate([silence, speech(QUESTION, 8000), silence])),
                          text=QUESTION, id="saturday")
        call = asyncio.create_task(place_call(tom.url, [turn], caller="+4976112345"))

        # Once TOM has answered the question, the German line joins the same call's transcript.
        def answers() -> list:
            return [e for e in log.of(ev.Transcript) if e.role == ev.Role.ASSISTANT and e.turn >= 1]

        await log.wait(answers, 150)
        answer = answers()[0]
        call_id = answer.call_id
        german = tom.bus.publish(ev.Transcript(call_id=call_id, role=ev.Role.CALLER,
                                               text=GERMAN_LINE, turn=answer.turn + 1))

        result = await browser.result(180)
        placed = await asyncio.wait_for(call, 120)
    finally:
        await browser.stop()

    assert placed.ok, placed.failure
    assert result["callId"] == call_id
    roles = {line["role"] for line in result["lines"]}
    assert roles == {"caller", "assistant"}, result["lines"]
    said = [e.text for e in log.of(ev.Transcript, call_id) if e.ts_ns <= german.ts_ns]
    shown = [line["text"] for line in result["lines"]]
    assert shown[:len(said)] == said  # every line up to the German one, in order, on the page
    assert result["germanText"] == GERMAN_LINE
    assert any(w > 1 for w in result["barWidths"])
    assert result["consoleErrors"] == []
    assert all(size > 10_000 for size in _file_sizes(result["screenshots"])), result["screenshots"]


async def test_talk_to_tom_from_the_browser(tom, speech, tmp_path) -> None:
    from tom.audio import write_wav
    from tom.monitor import events as ev

    log = EventLog(tom.bus)
    # The fake microphone starts when the call opens: let TOM's greeting play first, then ask.
    rate = 16000
    mic = np.concatenate([np.zeros(rate * 8, np.float32), speech(BROWSER_QUESTION, rate),
                          np.zeros(rate * 8, np.float32)])
    wav = tmp_path / "caller.wav"
    write_wav(wav, mic, rate)

    browser = BrowserScript("scenario_b_browser_call.mjs", {
        "TOM_URL": f"{tom.url}/", "FAKE_MIC_WAV": str(wav), "TIMEOUT_MS": "150000",
        "MIN_AUDIO_S": "1.0"})
    await browser.start()
    try:
        result = await browser.result(240)
    finally:
        await browser.stop()

    started = [e for e in log.of(ev.CallStarted) if e.transport == "browser"]
    assert len(started) == 1, log.of(ev.CallStarted)
    call_id = started[0].call_id
    heard = [e.text for e in log.of(ev.Transcript, call_id) if e.role == ev.Role.CALLER]
    assert heard, "TOM transcribed nothing from the browser microphone"
    # the words made it through worklet and socket
    assert "saturday" in " ".join(heard).lower(), (heard, result["lines"])
    assert any(line["role"] == "assistant" for line in result["lines"]), result["lines"]
    assert result["audioS"] >= 1.0
    await log.wait(lambda: log.of(ev.CallEnded, call_id), 15)  # Hang up ended the call


@pytest.mark.parametrize("mic", ["denied", "missing"])
async def test_talk_to_tom_explains_a_microphone_problem(tom, mic: str) -> None:
    browser = BrowserScript("scenario_c_no_microphone.mjs", {"TOM_URL": f"{tom.url}/", "MIC": mic})
    await browser.start()
    try:
        result = await browser.result(90)
    finally:
        await browser.stop()
    assert "microphone" in result["message"].lower()
    assert "again" in result["message"]  # it says what to do next
