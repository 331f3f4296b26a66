"""The OPTIONS gate's reading of PJSIP's request summary, and its layout of pjsip_module."""

from __future__ import annotations

import ctypes

from tom.telephony.sip.options import is_options
from tom.telephony.sip.pjmodule import PjsipModule as _Module


def test_only_an_options_request_is_taken():
    assert is_options(b"Request msg OPTIONS/cseq=1 (rdata0x7f00)")
    assert not is_options(b"Request msg INVITE/cseq=1 (rdata0x7f00)")
    assert not is_options(b"Response msg 200/OPTIONS/cseq=1 (rdata0x7f00)")
    assert not is_options(b"Request msg OPTIONSX/cseq=1 (rdata0x7f00)")
    assert not is_options(b"")


def test_module_struct_has_pjsip_2x_layout():
    """prev, next, name (ptr + ssize), id, priority, then nine function pointers (LP64)."""
    ptr = ctypes.sizeof(ctypes.c_void_p)
    assert _Module.on_rx_request.offset == 2 * ptr + 2 * ptr + 8 + 4 * ptr
    assert ctypes.sizeof(_Module) == 2 * ptr + 2 * ptr + 8 + 9 * ptr
