"""PJSIP (pjsua2) on a thread of its own: transactions, dialogs, REGISTER, SDP, RTP, jitter buffer.

Every pjsua2 object is created, used and deleted on this one thread (PJSIP's rule for threads
it did not register); the asyncio loop talks to it through `SipStack.submit` (a job queue)
and hears from it only through `loop.call_soon_threadsafe`, so nothing here ever blocks the
loop. Audio runs on PJSIP's media clock thread through `FramePort` and `FrameBuffer`.
"""

from __future__ import annotations

import asyncio
import queue
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import structlog

from tom.config import SipSettings
from tom.security.ratelimit import RateLimiter
from tom.telephony.sip.events import CallEvent, Disconnected, Dtmf, TransferStatus, keypad_digit
from tom.telephony.sip.framing import body_cut_short, wire_text
from tom.telephony.sip.media import FRAME_BYTES, FrameBuffer, Marked
from tom.telephony.sip.options import OptionsGate
from tom.telephony.sip.pjmodule import pjsua2_library
from tom.telephony.sip.sources import Sources, host_of, registrar_host
from tom.telephony.sip.strays import StrayRequests

log: structlog.stdlib.BoundLogger = structlog.get_logger(__name__)

T = TypeVar("T")
POLL_MS = 5  # how long the SIP thread waits for network events before looking at its jobs
MAX_PJSUA_CALLS = 32  # the most pjsua accepts as maxCalls
# The packaged pjsua2 build clamps maxCalls to its compile-time PJSUA_MAX_CALLS: measured, a
# 5th concurrent INVITE is answered 486 by PJSIP itself ("too many calls") with maxCalls 14,
# while maxCalls 2 refuses the 3rd: the setting is honoured below the wheel's cap of 4.
PACKAGED_CALL_CAP = 4
SILENCE = bytes(FRAME_BYTES)
# Media ports, PJSIP modules and calls still held elsewhere after shutdown: never freed by
# Python (see PortPool, SipStack._bury), kept here.
_NEVER_FREED: list[Any] = []


class SipStartError(RuntimeError):
    """The SIP stack could not start (no pjsua2, the port is taken); says what to do."""


class StackListener(Protocol):
    """The loop side: runs on the asyncio loop, called through call_soon_threadsafe."""

    def incoming(self, handle: CallHandle) -> None: ...

    def registration(self, code: int, reason: str, expires_s: int) -> None: ...


@dataclass
class CallHandle:
    """One INVITE, as the loop sees it: plain Python, no pjsua2 object (those stay on the SIP
    thread). Events arrive on `events`: inbound PCM frames, `Marked`, and `CallEvent`s."""

    stack: SipStack
    call_id: int
    source: str
    caller: str
    media: FrameBuffer
    events: asyncio.Queue[bytes | Marked | CallEvent] = field(default_factory=asyncio.Queue)
    transfers: asyncio.Queue[TransferStatus | Disconnected] = field(default_factory=asyncio.Queue)
    gone: bool = False
    answered: bool = False
    invite_ns: int = 0  # INVITE handed to TOM (monotonic)
    answered_ns: int = 0  # 200 OK sent

    def answer(self) -> asyncio.Future[None]:
        return self.stack.submit(lambda: self.stack.answer(self.call_id))

    def reject(self, code: int, headers: dict[str, str] | None = None) -> asyncio.Future[None]:
        return self.stack.submit(lambda: self.stack.hang_up(self.call_id, code, headers))

    def hang_up(self) -> asyncio.Future[None]:
        return self.stack.submit(lambda: self.stack.hang_up(self.call_id, 0, None))

    def transfer(self, uri: str) -> asyncio.Future[None]:
        return self.stack.submit(lambda: self.stack.transfer(self.call_id, uri))


def _pj() -> Any:
    try:
        import pjsua2
    except ImportError as exc:
        raise SipStartError(f"sip.enabled needs the pjsua2 bindings ({exc}); install TOM's "
                            "dependencies again (`make install`)") from None
    return pjsua2


class SipStack:
    """The PJSIP endpoint and its thread; `start` returns once it listens (or raises)."""

    _running: SipStack | None = None  # PJSIP has one endpoint per process

    def __init__(self, settings: SipSettings, max_calls: int, listener: StackListener,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.settings = settings
        self.max_calls = max_calls
        self.listener = listener
        self.loop = loop
        self.port = 0
        self.accepting = True
        # Why TOM cannot take a call now (None: it can); set by the loop, read by the OPTIONS
        # gate on the SIP thread (a plain attribute: one reference swap, no lock needed).
        self.busy_reason: str | None = None
        self.sources = Sources(settings.allowed_sources)
        self.flood = RateLimiter(settings.invites_per_min)
        self._junk_log = LogBudget(per_s=5)
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="tom-sip", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stopping = False
        self._calls: dict[int, Any] = {}  # pjsua2 call objects by id, owned by the SIP thread
        self._handles: dict[int, CallHandle] = {}
        self._reap: list[int] = []
        # Ended calls' pjsua2 objects, freed here on the SIP thread once nothing else holds them
        # (freed on another thread, a Call's destructor calls PJSIP there: PJSIP aborts).
        self._graveyard: list[Any] = []
        self.ports: PortPool | None = None
        self.options: OptionsGate | None = None
        self.strays: StrayRequests | None = None
        self.pj: Any = None
        self._log_writer: Any = None
        self.ep: Any = None
        self.account: Any = None

    # --- loop side ----------------------------------------------------------------------------

    async def start(self) -> None:
        self.pj = _pj()
        if SipStack._running is not None:
            raise SipStartError("a SIP user agent is already running in this process (PJSIP "
                                "allows one per process); run another `tom serve` process "
                                "for a second SIP address")
        SipStack._running = self
        self._thread.start()
        await asyncio.to_thread(self._ready.wait)
        if self._error is not None:
            await asyncio.to_thread(self._thread.join, 5)
            SipStack._running = None
            raise self._error

    async def stop(self) -> None:
        if self._thread.is_alive():
            self._stopping = True
            await asyncio.to_thread(self._thread.join, 10)
        if self._thread.is_alive():  # a second endpoint beside a live one would crash PJSIP
            log.error("the SIP thread did not stop within 10 s; SIP stays unavailable in this "
                      "process")
            return
        if SipStack._running is self:
            SipStack._running = None

    def submit(self, job: Callable[[], T]) -> asyncio.Future[T]:
        """Run `job` on the SIP thread; the future resolves on the loop with its result."""
        fut: asyncio.Future[T] = self.loop.create_future()

        def run() -> None:
            try:
                result = job()
            except Exception as exc:  # the loop side decides what an error means
                self._post(_settle, fut, None, detached(exc))
            else:
                self._post(_settle, fut, result, None)

        if not self._thread.is_alive():
            fut.set_exception(ConnectionError("the SIP stack is not running"))
        else:
            self._jobs.put(run)
        return fut

    # --- SIP thread ---------------------------------------------------------------------------

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop closed (shutdown): nobody is left to tell
            pass

    def _run(self) -> None:
        try:
            self._init()
        except BaseException as exc:
            self._error = exc if isinstance(exc, SipStartError) else SipStartError(
                f"cannot start SIP on {self.settings.host}:{self.settings.port}: "
                f"{pj_reason(exc)}; choose another port with sip.port (TOM_SIP_PORT) or set "
                "sip.enabled = false")
            self._destroy()
            self._ready.set()
            return
        self._ready.set()
        try:
            while not self._stopping:
                self._drain_jobs()
                self.ep.libHandleEvents(POLL_MS)
                self._reap_calls()
                self._bury()
        except BaseException:
            log.exception("SIP thread failed")
        finally:
            self._shutdown()

    def _why_busy(self) -> str | None:
        return "shutting down" if not self.accepting else self.busy_reason

    def _drain_jobs(self) -> None:
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            job()

    def _init(self) -> None:
        pj, s = self.pj, self.settings
        ep = self.ep = pj.Endpoint()
        ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0  # this thread polls; no hidden SIP workers
        cfg.uaConfig.mainThreadOnly = False
        cfg.uaConfig.maxCalls = min(MAX_PJSUA_CALLS, self.max_calls * 2 + 2)
        cfg.uaConfig.userAgent = "TOM"
        self._log_writer = _make_log_writer(pj)  # kept: PJSIP holds only a pointer to it
        cfg.logConfig.writer = self._log_writer
        cfg.logConfig.level = 2  # errors and warnings: bad packets, failed transactions
        cfg.logConfig.consoleLevel = 2
        cfg.logConfig.msgLogging = 0
        cfg.logConfig.decor = 0
        med = cfg.medConfig
        med.clockRate = med.sndClockRate = 8000
        med.channelCount = 1
        med.audioFramePtime = 20
        med.ptime = 20
        med.noVad = True
        med.ecTailLen = 0  # TOM's audio never reaches a loudspeaker: nothing to cancel
        ep.libInit(cfg)
        tc = pj.TransportConfig()
        tc.port = s.port or free_port(s.host)  # UDP and TCP on one port, also when it is chosen
        tc.boundAddress = s.host
        if s.public_address:
            tc.publicAddress = s.public_address
        udp = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
        self.port = int(str(ep.transportGetInfo(udp).localName).rsplit(":", 1)[1])
        ep.transportCreate(pj.PJSIP_TRANSPORT_TCP, tc)
        ep.audDevManager().setNullDev()
        for codec in ep.codecEnum2():
            ep.codecSetPriority(codec.codecId, 0)
        ep.codecSetPriority("PCMA/8000/1", 255)  # European lines first
        ep.codecSetPriority("PCMU/8000/1", 254)
        ep.libStart()
        self.ports = PortPool(pj)
        library = pjsua2_library(pj)
        self.options = OptionsGate(library, self._why_busy)
        self.options.install()
        self.strays = StrayRequests(library)
        self.strays.install()
        self.account = _make_account(pj, self)
        log.info("sip listening", host=s.host, port=self.port, transports="udp,tcp",
                 registrar=s.registrar or None, user=s.user)

    def _shutdown(self) -> None:
        try:
            self.ep.hangupAllCalls()
            deadline = time.monotonic() + 1.0
            if self.account is not None and self.settings.registrar:
                self.account.shutdown()
                deadline += 1.0
            while time.monotonic() < deadline and (self._calls or self.settings.registrar):
                self.ep.libHandleEvents(20)
                self._reap_calls()
                if not self._calls and not self.settings.registrar:
                    break
        except Exception:
            log.exception("SIP shutdown failed")
        self._destroy()

    def _destroy(self) -> None:
        for call in self._calls.values():
            call.release()
        self._graveyard.extend(self._calls.values())
        self._calls.clear()
        if self.account is not None:
            self._graveyard.append(self.account)
            self.account = None
        self._bury()
        for obj in self._graveyard:  # still held elsewhere: never destroyed by Python at all
            obj.thisown = False
        _NEVER_FREED.extend(self._graveyard)
        self._graveyard = []
        if self.ports is not None:
            self.ports.retire()
            self.ports = None
        for module in (self.options, self.strays):
            if module is not None:
                _NEVER_FREED.append(module)  # PJSIP keeps pointers to it until libDestroy
        if self.ep is not None:
            try:
                self.ep.libDestroy()
            except Exception:
                log.exception("SIP library shutdown failed")
            self.ep = None
        for handle in self._handles.values():
            self._post(_gone, handle, Disconnected(503, "TOM's SIP stack stopped"))
        self._handles.clear()

    def _reap_calls(self) -> None:
        while self._reap:
            call = self._calls.pop(self._reap.pop(), None)
            if call is not None:
                call.release()
                self._graveyard.append(call)

    @property
    def unfreed_calls(self) -> int:
        """Ended calls whose pjsua2 objects something still holds (0 in a healthy stack)."""
        return len(self._graveyard)

    def _bury(self) -> None:
        """Free the ended calls nothing else holds any more, here on the SIP thread: a list,
        the comprehension's name and getrefcount's argument make 3 references."""
        if self._graveyard:
            self._graveyard = [c for c in self._graveyard if sys.getrefcount(c) > 3]

    # --- called by pjsua2 callbacks and jobs (SIP thread) ------------------------------------

    def on_incoming(self, account: Any, call_id: int, source: str, message: str) -> None:
        pj = self.pj
        call = _make_call(pj, self, account, call_id)
        self._calls[call_id] = call
        info = call.getInfo()
        caller = wire_text(str(info.remoteUri))  # a Latin-1 display name from an old PBX
        bound = log.bind(sip_call=call_id, source=source, caller=caller)
        if not self.sources.allowed(source):
            bound.warning("INVITE refused: source not in sip.allowed_sources")
            return self._refuse(call, 403, "Forbidden")
        if not self.flood.allow(host_of(source)):
            bound.warning("INVITE refused: over sip.invites_per_min for this source")
            return self._refuse(call, 503, "Rate limited", {"Retry-After": "60"})
        if body_cut_short(message):
            bound.warning("INVITE refused: its datagram ends before the body its "
                          "Content-Length announces (truncated)")
            return self._refuse(call, 400, "Truncated message")
        if not self.accepting:
            bound.info("INVITE refused: TOM is shutting down")
            return self._refuse(call, 503, "Shutting down",
                                {"Retry-After": str(self.settings.retry_after_s)})
        handle = CallHandle(self, call_id, source, caller, FrameBuffer(_nowhere),
                            invite_ns=time.monotonic_ns())
        events = handle.events

        def deliver(item: bytes | Marked) -> None:
            self._post(events.put_nowait, item)

        handle.media = FrameBuffer(deliver)
        call.attach(handle)
        self._handles[call_id] = handle
        self._answer(call, 180)
        self._post(self.listener.incoming, handle)

    def _refuse(self, call: Any, code: int, reason: str,
                headers: dict[str, str] | None = None) -> None:
        try:
            call.answer(self._op(code, reason, headers))
        except Exception as exc:
            log.info("could not refuse the INVITE", error=pj_reason(exc))

    def _op(self, code: int, reason: str = "", headers: dict[str, str] | None = None) -> Any:
        prm = self.pj.CallOpParam(True)
        prm.statusCode = code
        if reason:
            prm.reason = reason
        for name, value in (headers or {}).items():
            h = self.pj.SipHeader()
            h.hName, h.hValue = name, value
            prm.txOption.headers.append(h)
        return prm

    def _answer(self, call: Any, code: int) -> None:
        call.answer(self._op(code))

    def _call(self, call_id: int) -> Any:
        call = self._calls.get(call_id)
        if call is None or call.ended:
            raise ConnectionError("the caller has hung up")
        return call

    def answer(self, call_id: int) -> None:
        call = self._call(call_id)
        try:
            self._answer(call, 200)
        except Exception as exc:
            raise ConnectionError(f"could not answer: {pj_reason(exc)}") from None
        handle = self._handles[call_id]
        handle.answered_ns = time.monotonic_ns()
        handle.answered = True

    def hang_up(self, call_id: int, code: int, headers: dict[str, str] | None) -> None:
        call = self._calls.get(call_id)
        if call is None or call.ended:
            return
        try:
            call.hangup(self._op(code, "", headers))
        except Exception as exc:
            log.info("hang-up failed; the dialog is gone already", sip_call=call_id,
                     error=pj_reason(exc))

    def transfer(self, call_id: int, uri: str) -> None:
        call = self._call(call_id)
        call.xfer(uri, self._op(0))

    def register(self) -> None:
        """REGISTER again now (the agent's retry after a failure)."""
        if self.account is not None:
            self.account.setRegistration(True)

    def on_state_disconnected(self, call_id: int, code: int, reason: str) -> None:
        handle = self._handles.pop(call_id, None)
        if handle is not None:
            self._post(_gone, handle, Disconnected(code, reason))
        self._reap.append(call_id)

    def junk_dtmf(self, call_id: int, raw: str) -> None:
        """A DTMF event that names no key (a SIP INFO's `Signal=` is not checked by PJSIP):
        dropped, said in the log (at most a few lines a second: a caller could send many)."""
        ok, dropped = self._junk_log.take()
        if ok:
            log.warning("DTMF ignored: not a keypad key (0-9 * # A-D)", sip_call=call_id,
                        signal=raw[:20], dropped_before=dropped or None)

    def post_event(self, handle: CallHandle, event: CallEvent) -> None:
        self._post(handle.events.put_nowait, event)

    def on_registration(self, code: int, reason: str, expires_s: int) -> None:
        self._post(self.listener.registration, code, reason, expires_s)


def pj_reason(exc: BaseException) -> str:
    """pjsua2's errors carry their text in `reason`; str() of them is empty."""
    return str(getattr(exc, "reason", "") or exc or type(exc).__name__)


def free_port(host: str) -> int:
    """A port free for both UDP and TCP on `host` (sip.port = 0: tests, several instances)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
                return port
    raise SipStartError(f"no port is free for both UDP and TCP on {host}")


def detached(exc: BaseException) -> BaseException:
    """The error as the loop may keep it: same type and words, no traceback or context. Their
    frames hold pjsua2 objects, which must be freed on the SIP thread only (a traceback kept on
    the loop is freed there, by the garbage collector at any moment)."""
    args = tuple(a for a in exc.args if isinstance(a, (str, int, float)))
    try:
        copy = type(exc)(*args)
    except Exception:
        return RuntimeError(pj_reason(exc))
    if not str(copy) and pj_reason(exc):
        return RuntimeError(pj_reason(exc))
    return copy


def _settle(fut: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)


def _nowhere(item: bytes | Marked) -> None:
    """Before a call's handle exists nothing is delivered."""


def _gone(handle: CallHandle, event: Disconnected) -> None:
    handle.gone = True
    handle.events.put_nowait(event)
    handle.transfers.put_nowait(event)


class LogBudget:
    """At most `per_s` PJSIP log lines a second reach TOM's log (a garbage flood would
    otherwise flood the log); how many were dropped is said once the budget is back."""

    def __init__(self, per_s: int = 20, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_s = per_s
        self.clock = clock
        self.window = 0
        self.used = 0
        self.dropped = 0

    def take(self) -> tuple[bool, int]:
        """(may log now, lines dropped since the last line that was logged)."""
        now = int(self.clock())
        if now != self.window:
            self.window, self.used = now, 0
        if self.used >= self.per_s:
            self.dropped += 1
            return False, 0
        self.used += 1
        dropped, self.dropped = self.dropped, 0
        return True, dropped


def _make_log_writer(pj: Any) -> Any:
    """PJSIP's warnings and errors (malformed packets, failed transactions) in TOM's log."""
    budget = LogBudget()

    class Writer(pj.LogWriter):  # type: ignore[misc]
        def write(self, entry: Any) -> None:  # any PJSIP thread
            ok, dropped = budget.take()
            if ok:
                log.warning("pjsip", message=str(entry.msg).strip()[:300], level=int(entry.level),
                            dropped_before=dropped or None)

    return Writer()


def _make_account(pj: Any, stack: SipStack) -> Any:
    """The one account: registered to `sip.registrar`, or local (INVITEs straight to TOM)."""
    s = stack.settings

    class Account(pj.Account):  # type: ignore[misc]
        def onIncomingCall(self, prm: Any) -> None:
            stack.on_incoming(self, prm.callId, str(prm.rdata.srcAddress),
                              str(prm.rdata.wholeMsg))

        def onRegState(self, prm: Any) -> None:
            stack.on_registration(int(prm.code), wire_text(str(prm.reason)),
                                  int(prm.expiration))

    acfg = pj.AccountConfig()
    if s.registrar:
        acfg.idUri = f"sip:{s.user}@{registrar_host(s.registrar)}"
        acfg.regConfig.registrarUri = s.registrar
        acfg.regConfig.timeoutSec = s.register_expires_s
        acfg.regConfig.retryIntervalSec = 0  # TOM's agent retries, with backoff, for any failure
        acfg.regConfig.dropCallsOnFail = False
        acfg.sipConfig.authCreds.append(
            pj.AuthCredInfo("digest", "*", s.auth_user or s.user, 0, s.password))
    else:
        host = s.public_address or s.host
        acfg.idUri = f"sip:{s.user}@{host}:{stack.port}"
    acfg.mediaConfig.transportConfig.port = s.rtp_port
    acfg.mediaConfig.transportConfig.portRange = s.rtp_port_range
    if s.host not in ("", "0.0.0.0", "::"):
        acfg.mediaConfig.transportConfig.boundAddress = s.host  # RTP where SIP is
    if s.public_address:
        acfg.mediaConfig.transportConfig.publicAddress = s.public_address
    acc = Account()
    acc.create(acfg, True)
    return acc


def _make_call(pj: Any, stack: SipStack, account: Any, call_id: int) -> Any:
    """A pjsua2 Call whose callbacks feed the handle; its media port is TOM's FrameBuffer."""

    class Call(pj.Call):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(account, call_id)
            self.handle: CallHandle | None = None
            self.port: Any = None
            self.ended = False

        def attach(self, handle: CallHandle) -> None:
            self.handle = handle
            assert stack.ports is not None
            self.port = stack.ports.take(handle.media)

        def onCallState(self, prm: Any) -> None:
            info = self.getInfo()
            if info.state == pj.PJSIP_INV_STATE_DISCONNECTED and not self.ended:
                self.ended = True
                stack.on_state_disconnected(call_id, int(info.lastStatusCode),
                                            wire_text(str(info.lastReason)))

        def onCallMediaState(self, prm: Any) -> None:
            if self.port is None:
                return
            info = self.getInfo()
            for i, media in enumerate(info.media):
                if media.type == pj.PJMEDIA_TYPE_AUDIO and \
                        media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                    audio = self.getAudioMedia(i)
                    audio.startTransmit(self.port)
                    self.port.startTransmit(audio)

        def onStreamDestroyed(self, prm: Any) -> None:
            """The call's audio stream ends: what the line was like, from PJSIP's RTP, RTCP
            and jitter-buffer counters (the stream still exists during this callback)."""
            try:
                stat = self.getStreamStat(prm.streamIdx)
                jb, rx, tx = stat.jbuf, stat.rtcp.rxStat, stat.rtcp.txStat
                figures = {"jitter_buffer_ms": int(jb.avgDelayMsec),
                           "jitter_buffer_max_ms": int(jb.maxDelayMsec),
                           "rx_packets": int(rx.pkt), "rx_lost": int(rx.loss),
                           "rx_jitter_ms": round(rx.jitterUsec.mean / 1000, 1),
                           "tx_packets": int(tx.pkt), "concealed_frames": int(jb.empty),
                           "discarded_frames": int(jb.discard)}
            except Exception as exc:  # a PJSIP callback must not raise: nothing to report
                log.debug("no media statistics", sip_call=call_id, error=pj_reason(exc))
                return
            log.info("media statistics", sip_call=call_id, **figures)

        def onDtmfDigit(self, prm: Any) -> None:  # RFC 4733 events and SIP INFO alike
            digit = keypad_digit(str(prm.digit))
            if digit is None:
                stack.junk_dtmf(call_id, wire_text(str(prm.digit)))
            elif self.handle is not None:
                stack.post_event(self.handle, Dtmf(digit))

        def onCallTransferStatus(self, prm: Any) -> None:
            if self.handle is not None:
                status = TransferStatus(int(prm.statusCode), wire_text(str(prm.reason)),
                                        bool(prm.finalNotify))
                stack._post(self.handle.transfers.put_nowait, status)
            prm.cont = not prm.finalNotify

        def onCallTransferRequest(self, prm: Any) -> None:
            # No open relay: a caller's REFER would make TOM call whoever the caller names.
            log.warning("caller's REFER refused: TOM calls no one on a caller's behalf",
                        sip_call=call_id, target=wire_text(str(prm.dstUri)))
            prm.statusCode = 603

        def onCallReplaceRequest(self, prm: Any) -> None:
            log.warning("INVITE with Replaces refused", sip_call=call_id)
            prm.statusCode = 403
            prm.reason = "Replaces not allowed"

        def release(self) -> None:
            """Hand the media port back to the pool (on the SIP thread) before pjsua2 forgets
            the call; the call's stream leaving the bridge ends its connections to it."""
            if self.port is not None and stack.ports is not None:
                stack.ports.give_back(self.port)
            self.port = None

    return Call()


class PortPool:
    """TOM's conference ports (`FramePort`), made once and reused by later calls, never deleted
    while PJSIP runs.

    PJSIP 2.15 (the packaged build) removes a port from its conference bridge asynchronously, on
    the media clock thread, after the application may have freed it: deleting an AudioMediaPort
    is a use-after-free that crashes the process now and then (pjproject #4200, fixed after
    2.15). A port whose call ended plays silence to nobody until the next call takes it; at
    shutdown the ports are disowned (their C++ side is never destroyed) and kept referenced.
    """

    def __init__(self, pj: Any) -> None:
        self.pj = pj
        self._free: list[Any] = []
        self._all: list[Any] = []
        self._port_class = _make_port_class(pj)

    def take(self, buffer: FrameBuffer) -> Any:
        if self._free:
            port = self._free.pop()
        else:
            port = self._port_class()
            fmt = self.pj.MediaFormatAudio()
            fmt.init(self.pj.PJMEDIA_FORMAT_PCM, 8000, 1, 20000, 16, 0, 0)
            port.createPort(f"tom-{len(self._all)}", fmt)
            self._all.append(port)
        port.buffer = buffer
        return port

    def give_back(self, port: Any) -> None:
        port.buffer = _IDLE
        if port not in self._free:
            self._free.append(port)

    @property
    def made(self) -> int:
        return len(self._all)

    def retire(self) -> None:
        """Before libDestroy: no port is ever deleted, not even by Python's garbage collector."""
        for port in self._all:
            port.buffer = _IDLE
            port.thisown = False
        _NEVER_FREED.extend(self._all)
        self._all.clear()
        self._free.clear()


_IDLE = FrameBuffer(_nowhere)


def _make_port_class(pj: Any) -> type:
    class FramePort(pj.AudioMediaPort):  # type: ignore[misc]
        """One call's audio at the bridge: frames from and to its `buffer`."""

        def __init__(self) -> None:
            super().__init__()
            self.buffer = _IDLE

        def onFrameRequested(self, frame: Any) -> None:  # media clock thread
            pcm = self.buffer.next_frame()
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
            frame.buf = pj.ByteVector(pcm if pcm is not None else SILENCE)
            frame.size = FRAME_BYTES

        def onFrameReceived(self, frame: Any) -> None:  # media clock thread
            if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO and frame.size:
                self.buffer.received(bytes(frame.buf))

    return FramePort
