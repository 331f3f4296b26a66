"""Real SIP peers for the e2e tests: baresip as the caller, Kamailio as registrar/proxy.

Both come from Debian's packages (scripts/install-system-packages.sh, group `test`); a test
that needs one is skipped with the install command when it is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import subprocess
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

BARESIP_MODULES = "/usr/lib/baresip/modules"
CALL_OVER = r"terminated \(duration|Call failed|session closed: (?!Connection refused)"
INSTALL = "run `scripts/install-system-packages.sh test` (as root)"


def need(program: str) -> str:
    path = shutil.which(program) or (f"/usr/sbin/{program}"
                                     if os.path.exists(f"/usr/sbin/{program}") else None)
    if path is None:
        pytest.skip(f"{program} is not installed; {INSTALL}")
    return path


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_wav(path: Path, pcm16: bytes, rate: int = 8000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm16)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768, \
            w.getframerate()


@dataclass
class BaresipRun:
    """What one baresip call left behind: its log and what it heard (decoded audio)."""

    log: str
    heard: np.ndarray
    rate: int


class Baresip:
    """One baresip process: dials `uri` at start, plays `mic` (8 kHz WAV) as its microphone
    and hangs up when the file ends; records what it hears (sndfile); keys go to `cons`."""

    def __init__(self, workdir: Path, mic_pcm: bytes, user: str = "caller",
                 password: str = "", registrar: str = "") -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.rec = self.dir / "rec"
        self.rec.mkdir(exist_ok=True)
        self.mic = self.dir / "mic.wav"
        write_wav(self.mic, mic_pcm)
        self.cons_port = free_port()
        (self.dir / "config").write_text(f"""poll_method epoll
sip_listen 127.0.0.1:{free_port()}
audio_player aubridge,nil
audio_source aufile,{self.mic}
audio_alert aubridge,nil
module_path {BARESIP_MODULES}
module g711.so
module account.so
module aufile.so
module aubridge.so
module sndfile.so
module cons.so
module_app menu.so
cons_listen 127.0.0.1:{self.cons_port}
snd_path {self.rec}
""", encoding="utf-8")
        if registrar:
            account = (f"<sip:{user}@{registrar}>;auth_pass={password};regint=0;"
                       f"outbound=\"sip:{registrar}\"\n")
        else:
            account = f"<sip:{user}@127.0.0.1>;regint=0\n"
        (self.dir / "accounts").write_text(account, encoding="utf-8")
        self.proc: subprocess.Popen[bytes] | None = None
        self.logfile = self.dir / "baresip.log"

    def dial(self, uri: str, max_s: float) -> None:
        self.proc = subprocess.Popen(
            [need("baresip"), "-f", str(self.dir), "-e", f"/dial {uri}", "-t", str(int(max_s))],
            stdout=self.logfile.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def key(self, keys: str) -> None:
        """Type on baresip's console (a digit during a call is sent as RFC 4733 DTMF)."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(keys.encode(), ("127.0.0.1", self.cons_port))

    def log(self) -> str:
        return self.logfile.read_text(encoding="utf-8", errors="replace")

    async def wait_log(self, pattern: str, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if re.search(pattern, self.log()):
                return True
            await asyncio.sleep(0.05)
        return False

    async def finish(self, timeout_s: float) -> BaresipRun:
        """Wait until the call is over (baresip itself would idle on until `-t`), then quit."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while self.proc.poll() is None and time.monotonic() < deadline:
            if re.search(CALL_OVER, self.log()):
                self.key("q")  # menu: quit
                break
            await asyncio.sleep(0.1)
        try:
            await asyncio.wait_for(asyncio.to_thread(self.proc.wait),
                                   max(1.0, deadline - time.monotonic()))
        except TimeoutError:
            self.proc.terminate()
            await asyncio.to_thread(self.proc.wait)
        dumps = sorted(self.rec.glob("*-dec.wav"))
        heard, rate = read_wav(dumps[-1]) if dumps else (np.zeros(0, np.float32), 8000)
        return BaresipRun(self.log(), heard, rate)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(Exception):
                self.proc.wait(5)


KAMAILIO_CFG = Path(__file__).resolve().parents[2] / "config" / "kamailio" / "tom.cfg"


class Kamailio:
    """Kamailio with TOM's config (config/kamailio/tom.cfg) on a free UDP port."""

    def __init__(self, workdir: Path, password: str, pool: list[int] | None = None,
                 port: int = 0) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.password = password
        self.list = self.dir / "tom.list"
        self.list.write_text("".join(f"1 sip:127.0.0.1:{p}\n" for p in pool or [free_port()]),
                             encoding="utf-8")
        self.logfile = self.dir / "kamailio.log"
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self._spawn()
        assert self.proc is not None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kamailio exited: {self.log()[-2000:]}")
            if await asyncio.to_thread(options_ok, self.port, 0.3):
                return
        raise RuntimeError(f"kamailio did not answer OPTIONS: {self.log()[-2000:]}")

    def _spawn(self) -> None:
        run = self.dir / "run"
        run.mkdir(exist_ok=True)
        self.proc = subprocess.Popen(
            [need("kamailio"), "-f", str(KAMAILIO_CFG), "-DD", "-E", "-Y", str(run),
             "-l", f"udp:127.0.0.1:{self.port}", "-A", f'TOM_PASSWORD="{self.password}"',
             "-A", f'DISPATCHER_LIST="{self.list}"'],
            stdout=self.logfile.open("ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def log(self) -> str:
        return self.logfile.read_text(encoding="utf-8", errors="replace")

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(asyncio.to_thread(self.proc.wait), 10)
            except TimeoutError:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait)


def options_ok(port: int, timeout_s: float) -> bool:
    """One OPTIONS to 127.0.0.1:`port`; True for a 200 answer."""
    return options_status(port, timeout_s).startswith("SIP/2.0 200")


def options_status(port: int, timeout_s: float) -> str:
    """One OPTIONS to 127.0.0.1:`port`; the answer's status line ("" for none)."""
    branch = os.urandom(6).hex()
    msg = (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{branch};rport\r\nMax-Forwards: 70\r\n"
           f"From: <sip:probe@127.0.0.1>;tag={branch}\r\nTo: <sip:127.0.0.1:{port}>\r\n"
           f"Call-ID: {branch}@probe\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout_s)
        s.bind(("127.0.0.1", 0))
        s.sendto(msg, ("127.0.0.1", port))
        try:
            return s.recv(65536).decode(errors="replace").split("\r\n", 1)[0]
        except OSError:
            return ""
