"""OPTIONS answered 503 while TOM cannot take a call, 200 while it can (balancers' probes).

pjsua answers every out-of-dialog OPTIONS with 200 itself and pjsua2 offers no hook for it, so
Kamailio's dispatcher would keep sending INVITEs to a TOM whose lines are all taken. This puts a
small PJSIP module, through the C API the packaged library exports, in front of pjsua's OPTIONS
handler: while `busy()` names a reason it answers 503 statelessly; otherwise pjsua answers.
It runs on the SIP thread (PJSIP calls modules from `libHandleEvents`).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import structlog

log: structlog.stdlib.BoundLogger = structlog.get_logger(__name__)

# pjsip_module_priority: the UA layer (32) has taken in-dialog requests by then; pjsua's own
# OPTIONS handler sits at PJSIP_MOD_PRIORITY_APPLICATION (64).
PRIORITY = 63
PJ_TRUE, PJ_FALSE = 1, 0

_RxCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class _PjStr(ctypes.Structure):
    _fields_ = [("ptr", ctypes.c_char_p), ("slen", ctypes.c_ssize_t)]


class _Module(ctypes.Structure):
    """`struct pjsip_module` of pjproject 2.x (sip_module.h)."""

    _fields_ = [("prev", ctypes.c_void_p), ("next", ctypes.c_void_p), ("name", _PjStr),
                ("id", ctypes.c_int), ("priority", ctypes.c_int),
                ("load", ctypes.c_void_p), ("start", ctypes.c_void_p),
                ("stop", ctypes.c_void_p), ("unload", ctypes.c_void_p),
                ("on_rx_request", _RxCallback), ("on_rx_response", ctypes.c_void_p),
                ("on_tx_request", ctypes.c_void_p), ("on_tx_response", ctypes.c_void_p),
                ("on_tsx_state", ctypes.c_void_p)]


def is_options(info: bytes) -> bool:
    """`pjsip_rx_data_get_info` reads "Request msg OPTIONS/cseq=1 (rdata0x…)" for an OPTIONS."""
    return info.startswith(b"Request msg OPTIONS/")


class OptionsGate:
    """Registered once per SIP endpoint (on the SIP thread, after libInit); kept referenced for
    the endpoint's life: PJSIP holds pointers to the module and its callback."""

    NAME = b"mod-tom-options"

    def __init__(self, library_path: str, busy: Callable[[], str | None]) -> None:
        self.busy = busy
        self.answered_503 = 0
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
        self._reason = _PjStr(b"Busy", 4)
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
            raise RuntimeError(f"PJSIP refused the OPTIONS module (status {status})")
        self._endpt = endpt

    def _on_rx_request(self, rdata: int) -> int:
        try:
            reason = self.busy()
            if reason is None or self._endpt is None:
                return PJ_FALSE
            info = self._info(rdata) or b""
            if not is_options(info):
                return PJ_FALSE
            self._respond(self._endpt, rdata, 503, ctypes.byref(self._reason), None, None)
            self.answered_503 += 1
            return PJ_TRUE
        except Exception:  # never let an exception cross into C
            log.exception("OPTIONS gate failed; pjsua answers instead")
            return PJ_FALSE


def pjsua2_library(pj: Any) -> str:
    """The shared object that holds PJSIP (the pjsua2 extension module)."""
    return str(pj._pjsua2.__file__)
