"""A PJSIP module that answers some requests itself, statelessly, from Python.

pjsua2 has no hook for requests pjsua handles on its own (OPTIONS) or drops (an unknown
method outside a dialog). PJSIP's C API, which the packaged extension exports, lets an
application put a module into the chain: `pjsip_endpt_register_module` with an
`on_rx_request` callback, here a ctypes function. PJSIP calls it on the SIP thread (from
`libHandleEvents`); `answer` sees `pjsip_rx_data_get_info`'s one-line summary of the request
("Request msg OPTIONS/cseq=1 (rdata0x…)") and returns the status to send, or None to pass it on.
"""

from __future__ import annotations

import abc
import ctypes
from typing import Any

import structlog

log: structlog.stdlib.BoundLogger = structlog.get_logger(__name__)

PJ_TRUE, PJ_FALSE = 1, 0
REQUEST = b"Request msg "

_RxCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class PjStr(ctypes.Structure):
    _fields_ = [("ptr", ctypes.c_char_p), ("slen", ctypes.c_ssize_t)]


class PjsipModule(ctypes.Structure):
    """`struct pjsip_module` of pjproject 2.x (sip_module.h)."""

    _fields_ = [("prev", ctypes.c_void_p), ("next", ctypes.c_void_p), ("name", PjStr),
                ("id", ctypes.c_int), ("priority", ctypes.c_int),
                ("load", ctypes.c_void_p), ("start", ctypes.c_void_p),
                ("stop", ctypes.c_void_p), ("unload", ctypes.c_void_p),
                ("on_rx_request", _RxCallback), ("on_rx_response", ctypes.c_void_p),
                ("on_tx_request", ctypes.c_void_p), ("on_tx_response", ctypes.c_void_p),
                ("on_tsx_state", ctypes.c_void_p)]


def request_method(info: bytes) -> str | None:
    """The method of a request's summary; None for a response."""
    if not info.startswith(REQUEST):
        return None
    return info[len(REQUEST):].split(b"/", 1)[0].decode("ascii", "replace")


def pjsua2_library(pj: Any) -> str:
    """The shared object that holds PJSIP (the pjsua2 extension module)."""
    return str(pj._pjsua2.__file__)


class StatelessResponder(abc.ABC):
    """Registered once per SIP endpoint (on the SIP thread, after libInit) and kept referenced
    for the endpoint's life: PJSIP holds pointers to the module and its callback."""

    def __init__(self, library_path: str, name: bytes, priority: int) -> None:
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
                                  ctypes.POINTER(PjStr), ctypes.c_void_p, ctypes.c_void_p]
        self._register = lib.pjsip_endpt_register_module
        self._register.restype = ctypes.c_int
        self._register.argtypes = [ctypes.c_void_p, ctypes.POINTER(PjsipModule)]
        self._name = name
        self._callback = _RxCallback(self._on_rx_request)
        self._module = PjsipModule(name=PjStr(name, len(name)), id=-1, priority=priority,
                                   on_rx_request=self._callback)
        self._reasons: dict[bytes, PjStr] = {}
        self._endpt: int | None = None

    @abc.abstractmethod
    def answer(self, info: bytes) -> tuple[int, bytes | None] | None:
        """(status, reason or None for the standard one) to answer with; None: pass it on."""

    def install(self) -> None:
        endpt = self._endpt_fn()
        if not endpt:
            raise RuntimeError("PJSIP has no endpoint yet")
        status = self._register(endpt, ctypes.byref(self._module))
        if status != 0:
            raise RuntimeError(f"PJSIP refused the module {self._name.decode()} "
                               f"(status {status})")
        self._endpt = endpt

    def _on_rx_request(self, rdata: int) -> int:
        try:
            if self._endpt is None:
                return PJ_FALSE
            decided = self.answer(self._info(rdata) or b"")
            if decided is None:
                return PJ_FALSE
            code, reason = decided
            text = None
            if reason is not None:  # kept: PJSIP copies it, but only during the call
                text = self._reasons.setdefault(reason, PjStr(reason, len(reason)))
            self._respond(self._endpt, rdata, code, ctypes.byref(text) if text else None,
                          None, None)
            self.answered += 1
            return PJ_TRUE
        except Exception:  # never let an exception cross into C
            log.exception("PJSIP module failed; the request is passed on",
                          module=self._name.decode())
            return PJ_FALSE
