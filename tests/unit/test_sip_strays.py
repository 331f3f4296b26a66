"""Which unhandled out-of-dialog requests get which answer, and which DTMF signals are keys."""

from __future__ import annotations

from tom.telephony.sip.events import keypad_digit
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
