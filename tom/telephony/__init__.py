"""Telephony transports: each module only translates one wire format to and from TOM's frames.

`*_wire` modules are pure (no sockets, no clocks) so they can be fuzzed; the bridges that own
connections build on them.
"""
