"""Per-source connection rate limits: one token bucket per address, in bounded memory.

A caller that opens connections faster than `server.rate_limit_per_min` is refused early
(HTTP 429 before the websocket upgrade, or a closed TCP connection for AudioSocket), so a
flood from one address cannot take the lines or the CPU from everyone else.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

log = structlog.get_logger(__name__)

DEFAULT_MAX_SOURCES = 10_000
# Paths whose requests open a call (a websocket upgrade); other HTTP traffic is not limited.
CONNECT_PATHS = ("/twilio/stream", "/ws/browser")


class RateLimiter:
    """Token bucket per source: `burst` connections at once, refilled at `per_min` a minute.

    `per_min` 0 turns the limiter off. At most `max_sources` buckets are kept; the least
    recently seen source is forgotten first (a forgotten source starts with a full bucket,
    which is what a quiet source would have anyway).
    """

    def __init__(self, per_min: float, *, burst: float | None = None,
                 max_sources: int = DEFAULT_MAX_SOURCES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if per_min < 0:
            raise ValueError(f"per_min must be 0 (off) or positive, got {per_min}")
        if max_sources < 1:
            raise ValueError(f"max_sources must be at least 1, got {max_sources}")
        self.per_min = per_min
        self.burst = float(burst if burst is not None else max(1.0, per_min))
        self.max_sources = max_sources
        self._clock = clock
        self._rate_s = per_min / 60.0
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at
        self.refused = 0

    @property
    def enabled(self) -> bool:
        return self.per_min > 0

    def allow(self, source: str) -> bool:
        """Take one token for `source`; False when its bucket is empty."""
        if not self.enabled:
            return True
        now = self._clock()
        tokens, at = self._buckets.pop(source, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self._rate_s)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        else:
            self.refused += 1
        self._buckets[source] = (tokens, now)  # re-inserted: now the most recent
        while len(self._buckets) > self.max_sources:
            self._buckets.popitem(last=False)
        return allowed

    def retry_after_s(self, source: str) -> float:
        """Seconds until `source` has one token again (0 when it has one now)."""
        if not self.enabled or source not in self._buckets:
            return 0.0
        tokens, at = self._buckets[source]
        tokens = min(self.burst, tokens + (self._clock() - at) * self._rate_s)
        return max(0.0, (1.0 - tokens) / self._rate_s)

    def __len__(self) -> int:
        return len(self._buckets)


def rate_limit_middleware(limiter: RateLimiter,
                          paths: Iterable[str] = CONNECT_PATHS) -> Middleware:
    """aiohttp middleware refusing requests to `paths` with 429 when their source is over limit."""
    limited = frozenset(paths)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in limited:
            source = request.remote or "unknown"
            if not limiter.allow(source):
                log.warning("connection refused: rate limit", path=request.path, peer=source,
                            per_min=limiter.per_min)
                retry = max(1, round(limiter.retry_after_s(source)))
                return web.json_response(
                    {"error": f"too many connections from {source}; "
                              f"at most {limiter.per_min:g} a minute, retry in {retry} s"},
                    status=429, headers={"Retry-After": str(retry)})
        return await handler(request)

    return middleware
