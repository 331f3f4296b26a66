"""What one caller may cost the server: connection states, refusals and inbound audio, bounded.

A call line is cheap only if every state it can sit in is bounded: a connection that never says
which call it is (no Twilio `start`, no AudioSocket UUID) is closed after `start_timeout_s`, and
at most `pending_per_source` / `pending_total` such connections wait at once. A source refused
for busy lines more than `refusals_per_min` times a minute is cut off without the busy message.
A live call may send audio at most `burst_s` ahead of real time, in frames of at most
`max_frame_ms`; more is an `overload` or a protocol error that ends that call alone.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from tom.config import LimitsSettings
from tom.security.ratelimit import RateLimiter


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The bounds above, from the `[limits]` settings (defaults fit a small phone server)."""

    start_timeout_s: float = 10.0
    header_timeout_s: float = 10.0  # an HTTP request's headers must arrive within this
    pending_per_source: int = 8
    pending_total: int = 64
    refusals_per_min: float = 10.0
    burst_s: float = 2.0
    max_frame_ms: int = 1000
    # Pages (scheme://host[:port]) besides TOM's own that may open `/ws/browser`.
    browser_origins: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, s: LimitsSettings) -> ConnectionLimits:
        return cls(start_timeout_s=s.start_timeout_s, header_timeout_s=s.header_timeout_s,
                   pending_per_source=s.pending_per_source, pending_total=s.pending_total,
                   refusals_per_min=s.refusals_per_min, burst_s=s.burst_s,
                   max_frame_ms=s.max_frame_ms,
                   browser_origins=tuple(o.rstrip("/") for o in s.browser_origins))


class PendingGate:
    """Counts connections that have not yet said which call they are, per source and in total."""

    def __init__(self, per_source: int, total: int) -> None:
        self.per_source = per_source
        self.total = total
        self._by_source: Counter[str] = Counter()

    def __len__(self) -> int:
        return sum(self._by_source.values())

    def enter(self, source: str) -> PendingSlot | None:
        """A slot for one pending connection from `source`; None when a cap is reached."""
        if self._by_source[source] >= self.per_source or len(self) >= self.total:
            return None
        self._by_source[source] += 1
        return PendingSlot(self, source)

    def _leave(self, source: str) -> None:
        self._by_source[source] -= 1
        if self._by_source[source] <= 0:
            del self._by_source[source]


class PendingSlot:
    """One pending connection's place in the gate; `release()` is safe to call twice."""

    def __init__(self, gate: PendingGate, source: str) -> None:
        self._gate: PendingGate | None = gate
        self.source = source

    def release(self) -> None:
        gate, self._gate = self._gate, None
        if gate is not None:
            gate._leave(self.source)


class InboundMeter:
    """Caller audio may run at most `burst_s` ahead of the wall clock (a token bucket in seconds).

    Network jitter delivers audio in bursts, never faster than real time for long; a peer that
    does is flooding, and ending its call keeps its audio from crowding out the other calls.
    """

    def __init__(self, burst_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.burst_s = burst_s
        self._clock = clock
        self._credit_s = burst_s
        self._at = clock()

    def take(self, seconds: float) -> bool:
        """Account `seconds` of audio; False when the peer is beyond its allowance."""
        now = self._clock()
        self._credit_s = min(self.burst_s, self._credit_s + (now - self._at)) - seconds
        self._at = now
        return self._credit_s >= 0.0


@dataclass
class Guards:
    """The limits and their shared state for one server (kept by the `Assistant`)."""

    limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    pending: PendingGate = field(init=False)
    refusals: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.pending = PendingGate(self.limits.pending_per_source, self.limits.pending_total)
        self.refusals = RateLimiter(self.limits.refusals_per_min)
