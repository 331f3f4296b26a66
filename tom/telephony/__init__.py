"""Telephony transports: each module only translates one wire format to and from TOM's frames.

`bridge` is what every transport shares (open or refuse a call, pump TOM's audio out, end or
fail it in one place); `twilio`, `audiosocket`, `browser` and `local` each add only their wire.
`*_wire`, `twiml` and `twilio_signature` are pure (no sockets, no clocks) so they can be fuzzed.
"""
