"""Requests outside any dialog that no part of PJSIP takes get an answer instead of silence.

pjsua answers INVITE, OPTIONS, MESSAGE and SUBSCRIBE; any other request outside a dialog — an
unknown method such as `FOO`, PUBLISH, or a BYE/INFO for a call TOM does not have — PJSIP 2.15
drops without a word (measured), so the sender retransmits it for 32 s and never learns why.
This module, last in PJSIP's chain, answers such a request statelessly: 481 when the method
only makes sense inside a dialog or transaction (RFC 3261 §12.2.2), 501 Not Implemented for
the rest (§8.2.1). It never answers an ACK. Same C-module mechanism as `options.OptionsGate`.
"""

from __future__ import annotations

import ctypes
from enum import IntEnum

import structlog

from tom.telephony.sip.options import PJ_FALSE, PJ_TRUE, _Module, _PjStr, _RxCallback

log: structlog.stdlib.BoundLogger = structlog.get_logger(__name__)

# after every module of PJSIP and pjsua (the highest, PJSIP_MOD_PRIORITY_APPLICATION, is 64):
# only requests they all passed on arrive here
PRIORITY = 100
IN_DIALOG_ONLY = frozenset({"BYE", "CANCEL", "INFO", "UPDATE", "PRACK", "NOTIFY", "REFER"})
_PREFIX = b"Request msg "


class StrayAnswer(IntEnum):
    NO_DIALOG = 481  # Call/Transaction Does Not Exist
    NOT_IMPLEMENTED = 501


def stray_answer(info: bytes) -> StrayAnswer | None:
    """The answer to an unhandled request, from `pjsip_rx_data_get_info`'s summary
    ("Request msg FOO/cseq=1 (rdata0x…)"); None: leave it unanswered (ACK, or not a request)."""
    if not info.startswith(_PREFIX):
        return None
    method = info[len(_PREFIX):].split(b"/", 1)[0].decode("ascii", "replace")
    if not method or method == "ACK":
        return None
    return StrayAnswer.NO_DIALOG if method in IN_DIALOG_ONLY else StrayAnswer.NOT_IMPLEMENTED


class StrayRequests:
    """Registered once per SIP endpoint (on the SIP thread, after libInit); kept referenced for
    the endpoint's life: PJSIP holds pointers to the module and its callback."""

    NAME = b"mod-tom-strays"

    def __init__(self, library_path: str) -> None:
        self.answered = 0
        lib = ctypes.CDLL(library_path)  # the already loaded pjsua2 extension
        self._endpt_fn = lib.pjsua_get_pjsip_endpt
        self._endpt_fn.restype = ctypes.c_void_p
        self._info = lib.pjsip_rx_data_get_info
        self._info.restype = ctypes.c_char_p
        self._info.argtypes = [ctypes.c_void_p]
        self._respond = lib.pjsip_endpt_respond_stateless
        self._respond.restype = ctypes.c_int
        self._respond.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                  ctypes.POINTER(_PjStr), ctypes.c_void_p, ctypes.c_void_p]
        self._register = lib.pjsip_endpt_register_module
        self._register.restype = ctypes.c_int
        self._register.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Module)]
        self._callback = _RxCallback(self._on_rx_request)
        self._module = _Module(name=_PjStr(self.NAME, len(self.NAME)), id=-1, priority=PRIORITY,
                               on_rx_request=self._callback)
        self._endpt: int | None = None

    def install(self) -> None:
        endpt = self._endpt_fn()
        if not endpt:
            raise RuntimeError("PJSIP has no endpoint yet")
        status = self._register(endpt, ctypes.byref(self._module))
        if status != 0:
            raise RuntimeError(f"PJSIP refused the stray-request module (status {status})")
        self._endpt = endpt

    def _on_rx_request(self, rdata: int) -> int:
        try:
            if self._endpt is None:
                return PJ_FALSE
            answer = stray_answer(self._info(rdata) or b"")
            if answer is None:
                return PJ_FALSE
            self._respond(self._endpt, rdata, int(answer), None, None, None)
            self.answered += 1
            return PJ_TRUE
        except Exception:  # never let an exception cross into C
            log.exception("stray-request module failed; the request stays unanswered")
            return PJ_FALSE
