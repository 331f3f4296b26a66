"""Bad input PJSIP lets through: which unhandled out-of-dialog requests get which answer,
which DTMF signals are keys, which datagrams end before their Content-Length, which text
is not UTF-8."""

from __future__ import annotations

from tom.telephony.sip.events import keypad_digit
from tom.telephony.sip.framing import body_cut_short, wire_text
from tom.telephony.sip.strays import StrayAnswer, stray_answer


def test_unknown_methods_get_501_and_dialog_methods_481():
    assert stray_answer(b"Request msg FOO/cseq=1 (rdata0x7f00)") == StrayAnswer.NOT_IMPLEMENTED
    assert stray_answer(b"Request msg PUBLISH/cseq=7 (rdata0x7f00)") == 501
    for method in (b"BYE", b"INFO", b"UPDATE", b"PRACK", b"NOTIFY", b"REFER", b"CANCEL"):
        assert stray_answer(b"Request msg " + method + b"/cseq=2 (rdata0x7f00)") == 481


def test_ack_and_responses_are_never_answered():
    assert stray_answer(b"Request msg ACK/cseq=1 (rdata0x7f00)") is None
    assert stray_answer(b"Response msg 200/BYE/cseq=1 (rdata0x7f00)") is None
    assert stray_answer(b"Request msg /cseq=1 (rdata0x7f00)") is None
    assert stray_answer(b"") is None


def test_only_keypad_keys_are_digits():
    assert [keypad_digit(k) for k in "0123456789*#ABCD"] == list("0123456789*#ABCD")
    assert keypad_digit("a") == "A"  # RFC 4733 names A-D; an INFO may send them lower-case
    assert keypad_digit(" 5\r\n") == "5"
    for junk in ("Z", "\r", "", "<", "12", "R", "\x00"):
        assert keypad_digit(junk) is None, junk


def _invite(body: str, length: int | str, name: str = "Content-Length") -> str:
    return (f"INVITE sip:tom@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060\r\n"
            f"{name}: {length}\r\n\r\n{body}")


def test_a_datagram_shorter_than_its_content_length_is_cut_short():
    sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"
    assert not body_cut_short(_invite(sdp, len(sdp)))
    assert not body_cut_short(_invite(sdp + "extra", len(sdp)))  # bytes beyond it: dropped
    assert body_cut_short(_invite(sdp[:-5], len(sdp)))
    assert body_cut_short(_invite(sdp, len(sdp) + 1, name="l"))  # the compact form
    assert body_cut_short(_invite("", 10, name="content-length"))


def test_without_a_readable_length_nothing_is_cut_short():
    assert not body_cut_short(_invite("v=0\r\n", "many"))
    assert not body_cut_short("INVITE sip:tom@127.0.0.1 SIP/2.0\r\nVia: x\r\n\r\nv=0\r\n")
    assert not body_cut_short("INVITE sip:tom@127.0.0.1 SIP/2.0\r\nContent-Length: 9")
    assert not body_cut_short("")


def test_text_that_is_not_utf8_is_read_as_latin1():
    latin1 = b'"M\xfcller" <sip:1@pbx>'.decode("utf-8", "surrogateescape")  # as pjsua2 gives it
    assert wire_text(latin1) == '"Müller" <sip:1@pbx>'
    assert wire_text('"Müller" <sip:1@pbx>') == '"Müller" <sip:1@pbx>'  # UTF-8 stays
    assert wire_text("") == ""


def test_an_error_crosses_to_the_loop_without_frames():
    """Frames hold pjsua2 objects; a traceback kept on the loop would free them there."""
    from tom.telephony.sip.stack import detached

    def fail() -> None:
        held = object()  # stands for a pjsua2 Call in the failing job's frame
        try:
            raise ValueError("inner")
        except ValueError:
            raise ConnectionError("the caller has hung up", held) from None

    try:
        fail()
    except ConnectionError as exc:
        copy = detached(exc)
    assert type(copy) is ConnectionError and copy.args[0] == "the caller has hung up"
    assert copy.__traceback__ is None and copy.__context__ is None
    assert len(copy.args) == 1  # only words and numbers travel, never an object

    class Odd(Exception):
        def __init__(self) -> None:  # cannot be rebuilt from its args
            super().__init__()
            self.reason = "PJSIP said no"

    assert str(detached(Odd())) == "PJSIP said no"
