"""OPTIONS answered 503 while TOM cannot take a call, 200 while it can (balancers' probes).

pjsua answers every out-of-dialog OPTIONS with 200 itself and pjsua2 offers no hook for it, so
Kamailio's dispatcher would keep sending INVITEs to a TOM whose lines are all taken. This
module sits in front of pjsua's OPTIONS handler: while `busy()` names a reason it answers
503; otherwise pjsua answers.
"""

from __future__ import annotations

from collections.abc import Callable

from tom.telephony.sip.pjmodule import StatelessResponder, request_method

# pjsip_module_priority: the UA layer (32) has taken in-dialog requests by then; pjsua's own
# OPTIONS handler sits at PJSIP_MOD_PRIORITY_APPLICATION (64).
PRIORITY = 63


def is_options(info: bytes) -> bool:
    """`pjsip_rx_data_get_info` reads "Request msg OPTIONS/cseq=1 (rdata0x…)" for an OPTIONS."""
    return request_method(info) == "OPTIONS"


class OptionsGate(StatelessResponder):
    def __init__(self, library_path: str, busy: Callable[[], str | None]) -> None:
        super().__init__(library_path, b"mod-tom-options", PRIORITY)
        self.busy = busy

    def answer(self, info: bytes) -> tuple[int, bytes | None] | None:
        if self.busy() is None or not is_options(info):
            return None
        return 503, b"Busy"
