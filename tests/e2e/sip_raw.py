"""A raw SIP/RTP caller for the e2e tests: datagrams written by hand, to send what a real phone
never would (CANCEL at the worst moment, INFO DTMF, RTP with the wrong payload type or from
the wrong address, unknown methods, truncated requests) and to see exactly what TOM answers.

Only what the tests need of RFC 3261: one UDP socket for SIP, one for RTP; requests built from
a dialog's Call-ID, tags and CSeq; answers read as status lines and headers.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field

HOST = "127.0.0.1"
RTP_HEADER = struct.Struct("!BBHII")  # V=2 flags, M+PT, sequence, timestamp, SSRC
PCMU_SILENCE = b"\xff" * 160  # 20 ms of μ-law silence


@dataclass
class Message:
    """One SIP message as received: its first line, headers (lower-case names) and body."""

    first: str
    headers: dict[str, str]
    body: str

    @property
    def status(self) -> int:
        """The status code of a response (0 for a request)."""
        parts = self.first.split(" ", 2)
        return int(parts[1]) if self.first.startswith("SIP/2.0 ") else 0

    @property
    def method(self) -> str:
        """The method of a request, or of the request a response answers (from CSeq)."""
        if self.status:
            return self.headers.get("cseq", " ").split(" ", 1)[1]
        return self.first.split(" ", 1)[0]

    @staticmethod
    def parse(data: bytes) -> Message:
        text = data.decode(errors="replace")
        head, _, body = text.partition("\r\n\r\n")
        first, *lines = head.split("\r\n")
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), value.strip())
        return Message(first, headers, body)


def sdp(rtp_port: int, payloads: str = "0", rtpmaps: str = "a=rtpmap:0 PCMU/8000\r\n") -> str:
    return (f"v=0\r\no=- 1 1 IN IP4 {HOST}\r\ns=-\r\nc=IN IP4 {HOST}\r\nt=0 0\r\n"
            f"m=audio {rtp_port} RTP/AVP {payloads}\r\n{rtpmaps}a=ptime:20\r\n")


def rtp_packet(seq: int, payload_type: int = 0, ssrc: int = 0x1234ABCD,
               payload: bytes = PCMU_SILENCE) -> bytes:
    return RTP_HEADER.pack(0x80, payload_type & 0x7F, seq & 0xFFFF, (seq * 160) & 0xFFFFFFFF,
                           ssrc) + payload


@dataclass
class RawCaller:
    """One caller: a SIP socket and an RTP socket on 127.0.0.1, and at most one dialog."""

    tom_port: int
    sip: socket.socket = field(init=False)
    rtp: socket.socket = field(init=False)
    call_id: str = field(default_factory=lambda: f"{uuid.uuid4().hex}@raw")
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    cseq: int = 1
    invite_branch: str = ""
    remote_tag: str = ""
    received: list[Message] = field(default_factory=list)  # everything TOM sent, in order
    # how this caller answers TOM's requests (others: 200): a REFER is declined, so no one is
    # called and TOM's fallback for a failed transfer runs
    answers: dict[str, tuple[int, str]] = field(
        default_factory=lambda: {"REFER": (603, "Decline")})
    display_name: bytes = b""  # raw bytes before the From URI: any encoding a PBX may use

    def __post_init__(self) -> None:
        self.sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sip.bind((HOST, 0))
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind((HOST, 0))

    @property
    def sip_port(self) -> int:
        return int(self.sip.getsockname()[1])

    @property
    def rtp_port(self) -> int:
        return int(self.rtp.getsockname()[1])

    def close(self) -> None:
        self.sip.close()
        self.rtp.close()

    # --- building and sending -----------------------------------------------------------------

    def request(self, method: str, *, branch: str | None = None, cseq: int | None = None,
                body: str = "", content_type: str = "", to_tag: str | None = None,
                call_id: str | None = None) -> bytes:
        branch = branch or uuid.uuid4().hex
        to_tag = self.remote_tag if to_tag is None else to_tag
        to = f"<sip:tom@{HOST}>" + (f";tag={to_tag}" if to_tag else "")
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        kind = f"Content-Type: {content_type}\r\n" if content_type else ""
        return (f"{method} sip:tom@{HOST}:{self.tom_port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {HOST}:{self.sip_port};branch=z9hG4bK{branch};rport\r\n"
                f"Max-Forwards: 70\r\nFrom: <sip:raw@{HOST}>;tag={self.tag}\r\nTo: {to}\r\n"
                f"Call-ID: {call_id or self.call_id}\r\nCSeq: {cseq} {method}\r\n"
                f"Contact: <sip:raw@{HOST}:{self.sip_port}>\r\n{kind}"
                f"Content-Length: {len(body.encode())}\r\n\r\n{body}").encode()

    def send(self, data: bytes) -> None:
        if self.display_name:
            data = data.replace(b"\r\nFrom: <", b"\r\nFrom: " + self.display_name + b" <", 1)
        self.sip.sendto(data, (HOST, self.tom_port))

    def send_invite(self, body: str | None = None) -> None:
        self.invite_branch = uuid.uuid4().hex
        self.send(self.request("INVITE", branch=self.invite_branch, cseq=1, to_tag="",
                               body=sdp(self.rtp_port) if body is None else body,
                               content_type="application/sdp"))

    def send_cancel(self) -> None:
        """CANCEL matches the INVITE's transaction: same branch, same CSeq number."""
        self.send(self.request("CANCEL", branch=self.invite_branch, cseq=1, to_tag=""))

    def send_ack(self, final: Message) -> None:
        """ACK a final answer to the INVITE: for a 2xx a new transaction, else the INVITE's."""
        self.remote_tag = _tag(final.headers.get("to", ""))
        branch = None if 200 <= final.status < 300 else self.invite_branch
        self.send(self.request("ACK", branch=branch, cseq=1))

    def send_bye(self) -> None:
        self.send(self.request("BYE"))

    def send_info_dtmf(self, digit: str, duration_ms: int = 160) -> None:
        self.send(self.request("INFO", body=f"Signal={digit}\r\nDuration={duration_ms}\r\n",
                               content_type="application/dtmf-relay"))

    # --- receiving ----------------------------------------------------------------------------

    def receive(self, timeout_s: float) -> Message | None:
        """The next SIP message from TOM (requests TOM sends are answered 200 here), or None."""
        self.sip.settimeout(timeout_s)
        try:
            data, _ = self.sip.recvfrom(65536)
        except TimeoutError:
            return None
        msg = Message.parse(data)
        self.received.append(msg)
        if not msg.status and msg.method != "ACK":  # TOM's BYE, REFER …: answer it
            code, reason = self.answers.get(msg.method, (200, "OK"))
            self.sip.sendto(_answer(msg, code, reason), (HOST, self.tom_port))
        return msg

    def wait_for(self, method: str, *, status: int | None = None, final: bool = False,
                 timeout_s: float = 10) -> Message | None:
        """The first message about `method` (a response with `status`, any final response
        when `final`, or the request itself when neither), skipping everything else."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            msg = self.receive(left)
            if msg is None:
                return None
            if msg.method != method:
                continue
            if status is not None and msg.status == status:
                return msg
            if final and msg.status >= 200:
                return msg
            if status is None and not final and not msg.status:
                return msg
        return None

    def call(self, timeout_s: float = 20) -> Message:
        """INVITE with a PCMU offer, wait for the 200 and ACK it: an established dialog."""
        self.send_invite()
        answer = self.wait_for("INVITE", final=True, timeout_s=timeout_s)
        assert answer is not None, f"no final answer to the INVITE: {self.firsts()}"
        self.send_ack(answer)
        assert answer.status == 200, answer.first
        return answer

    def hang_up(self, timeout_s: float = 10) -> Message | None:
        self.send_bye()
        return self.wait_for("BYE", final=True, timeout_s=timeout_s)

    def firsts(self) -> list[str]:
        return [m.first for m in self.received]

    # --- RTP ----------------------------------------------------------------------------------

    def rtp_count(self, listen_s: float) -> int:
        """How many RTP packets reach this caller's SDP address within `listen_s`."""
        return count_datagrams(self.rtp, listen_s)


def tom_rtp_address(answer_sdp: str) -> tuple[str, int]:
    """Where TOM receives RTP: the answer's audio port and (media-level) connection address."""
    lines = answer_sdp.split("\r\n")
    port = next(int(line.split()[1]) for line in lines if line.startswith("m=audio "))
    host = [line.split()[2] for line in lines if line.startswith("c=IN IP4 ")][-1]
    return host, port


class RtpSender:
    """Sends one packet per source on a 20 ms tick, from a thread of its own. A source is
    (socket, payload type, SSRC): the caller's PCMU, a payload type never offered, a stranger's
    address; `sources` may be changed while it runs (a caller whose address moves)."""

    def __init__(self, dest: tuple[str, int]) -> None:
        self.dest = dest
        self.sources: list[tuple[socket.socket, int, int]] = []  # socket, PT, SSRC
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0

    def add(self, sock: socket.socket, payload_type: int, ssrc: int) -> None:
        self.sources.append((sock, payload_type, ssrc))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        seq = 0
        next_tick = time.monotonic()
        while not self._stop.is_set():
            for sock, pt, ssrc in list(self.sources):
                payload = b"\xff" * 160 if pt in (0, 8) else bytes(range(40))
                sock.sendto(rtp_packet(seq, pt, ssrc, payload), self.dest)
            self.sent += 1
            seq += 1
            next_tick += 0.02
            self._stop.wait(max(0.0, next_tick - time.monotonic()))


def udp_socket(host: str = HOST) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    return s


def count_datagrams(sock: socket.socket, listen_s: float) -> int:
    deadline = time.monotonic() + listen_s
    seen = 0
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            sock.recv(2048)
        except TimeoutError:
            break
        seen += 1
    return seen


def drain(sock: socket.socket) -> None:
    """Drop whatever is queued on `sock` (so the next count starts from now)."""
    sock.settimeout(0)
    try:
        while True:
            sock.recv(2048)
    except (BlockingIOError, TimeoutError):
        pass


def one_shot(tom_port: int, data: bytes, timeout_s: float = 3) -> Message | None:
    """Send one datagram from a fresh socket; the first final answer, or None (silence)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        s.settimeout(timeout_s)
        s.sendto(data, (HOST, tom_port))
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            s.settimeout(left)
            try:
                msg = Message.parse(s.recv(65536))
            except TimeoutError:
                return None
            if msg.status >= 200:
                return msg
        return None


def _tag(header: str) -> str:
    for part in header.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name == "tag":
            return value
    return ""


def _answer(req: Message, code: int, reason: str) -> bytes:
    """A final answer to a request from TOM: its Via, From, To, Call-ID and CSeq echoed."""
    h = req.headers
    return (f"SIP/2.0 {code} {reason}\r\nVia: {h.get('via', '')}\r\nFrom: {h.get('from', '')}\r\n"
            f"To: {h.get('to', '')}\r\nCall-ID: {h.get('call-id', '')}\r\n"
            f"CSeq: {h.get('cseq', '')}\r\nContent-Length: 0\r\n\r\n").encode()
