"""Native SIP: TOM answers as an extension of a trunk, a PBX or Kamailio (docs/sip.md).

`stack` runs PJSIP (pjsua2) on its own thread; `agent` connects its calls to TOM's calls on
the asyncio loop through `bridge.CallLine`; `media` hands 20 ms frames between the two.
"""
