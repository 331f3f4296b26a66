"""Requests outside any dialog that no part of PJSIP takes get an answer instead of silence.

pjsua answers INVITE, OPTIONS, MESSAGE and SUBSCRIBE; any other request outside a dialog — an
unknown method such as `FOO`, PUBLISH, or a BYE/INFO for a call TOM does not have — PJSIP 2.15
drops without a word (measured), so the sender retransmits it for 32 s and never learns why.
This module, last in PJSIP's chain, answers such a request statelessly: 481 when the method
only makes sense inside a dialog or transaction (RFC 3261 §12.2.2), 501 Not Implemented for
the rest (§8.2.1). It never answers an ACK (`pjmodule.StatelessResponder`, as the OPTIONS gate).
"""

from __future__ import annotations

from enum import IntEnum

from tom.telephony.sip.pjmodule import StatelessResponder, request_method

# after every module of PJSIP and pjsua (the highest, PJSIP_MOD_PRIORITY_APPLICATION, is 64):
# only requests they all passed on arrive here
PRIORITY = 100
IN_DIALOG_ONLY = frozenset({"BYE", "CANCEL", "INFO", "UPDATE", "PRACK", "NOTIFY", "REFER"})


class StrayAnswer(IntEnum):
    NO_DIALOG = 481  # Call/Transaction Does Not Exist
    NOT_IMPLEMENTED = 501


def stray_answer(info: bytes) -> StrayAnswer | None:
    """The answer to an unhandled request, from `pjsip_rx_data_get_info`'s summary
    ("Request msg FOO/cseq=1 (rdata0x…)"); None: leave it unanswered (ACK, or not a request)."""
    method = request_method(info)
    if not method or method == "ACK":
        return None
    return StrayAnswer.NO_DIALOG if method in IN_DIALOG_ONLY else StrayAnswer.NOT_IMPLEMENTED


class StrayRequests(StatelessResponder):
    def __init__(self, library_path: str) -> None:
        super().__init__(library_path, b"mod-tom-strays", PRIORITY)

    def answer(self, info: bytes) -> tuple[int, bytes | None] | None:
        found = stray_answer(info)
        return None if found is None else (int(found), None)
