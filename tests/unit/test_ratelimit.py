"""Per-source token buckets: limits, refill, independence of sources, bounded memory."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import strategies as st

from tom.security.ratelimit import RateLimiter, rate_limit_middleware


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refused() -> None:
    limiter = RateLimiter(5, clock=Clock())
    assert [limiter.allow("10.0.0.1") for _ in range(7)] == [True] * 5 + [False] * 2
    assert limiter.refused == 2


def test_refills_at_rate_per_minute() -> None:
    clock = Clock()
    limiter = RateLimiter(60, clock=clock)
    for _ in range(60):
        assert limiter.allow("a")
    assert not limiter.allow("a")
    assert limiter.retry_after_s("a") == pytest.approx(1.0)
    clock.now += 0.5
    assert not limiter.allow("a")
    clock.now += 1.0
    assert limiter.allow("a")
    assert not limiter.allow("a")
    clock.now += 3600  # a long pause refills only up to the burst
    assert sum(limiter.allow("a") for _ in range(100)) == 60


def test_sources_are_independent() -> None:
    limiter = RateLimiter(2, clock=Clock())
    assert limiter.allow("a") and limiter.allow("a") and not limiter.allow("a")
    assert limiter.allow("b") and limiter.allow("b")


def test_custom_burst() -> None:
    limiter = RateLimiter(60, burst=3, clock=Clock())
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]


def test_zero_means_off() -> None:
    limiter = RateLimiter(0)
    assert not limiter.enabled
    assert all(limiter.allow("a") for _ in range(1000))
    assert len(limiter) == 0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        RateLimiter(-1)
    with pytest.raises(ValueError):
        RateLimiter(5, max_sources=0)


def test_memory_is_bounded_and_least_recent_goes_first() -> None:
    limiter = RateLimiter(1, max_sources=3, clock=Clock())
    for source in ("a", "b", "c"):
        assert limiter.allow(source)
    assert not limiter.allow("a")  # "a" is now the most recent
    assert limiter.allow("d")  # evicts "b"
    assert len(limiter) == 3
    assert not limiter.allow("a")  # still remembered: still empty
    assert limiter.allow("b")  # forgotten: full bucket again


@given(st.lists(st.integers(0, 50), max_size=400), st.integers(1, 20))
def test_never_more_than_max_sources(sources: list[int], cap: int) -> None:
    limiter = RateLimiter(3, max_sources=cap, clock=Clock())
    for s in sources:
        limiter.allow(str(s))
        assert len(limiter) <= cap


@given(st.integers(1, 30), st.integers(0, 100))
def test_never_allows_more_than_burst_without_time(per_min: int, tries: int) -> None:
    limiter = RateLimiter(per_min, clock=Clock())
    assert sum(limiter.allow("x") for _ in range(tries)) == min(tries, per_min)


async def test_middleware_refuses_only_connect_paths_with_429() -> None:
    clock = Clock()
    limiter = RateLimiter(2, clock=clock)

    async def ok(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(middlewares=[rate_limit_middleware(limiter)])
    app.router.add_get("/twilio/stream", ok)
    app.router.add_get("/api/calls", ok)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        codes = [(await client.get("/twilio/stream")).status for _ in range(3)]
        assert codes == [200, 200, 429]
        r = await client.get("/twilio/stream")
        assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
        assert "too many connections" in (await r.json())["error"]
        assert [(await client.get("/api/calls")).status for _ in range(5)] == [200] * 5
        clock.now += 30
        assert (await client.get("/twilio/stream")).status == 200
    finally:
        await client.close()
