"""Unit-test fixtures shared by several modules."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tom.bench.fake_tom import FakeTom


@pytest.fixture
async def fake() -> AsyncIterator[Callable[..., Awaitable[tuple[FakeTom, str]]]]:
    """`await fake(**FakeTom options)` → the fake TOM and its stream URL; stopped afterwards."""
    servers: list[FakeTom] = []

    async def start(**kw) -> tuple[FakeTom, str]:
        tom = FakeTom(**kw)
        servers.append(tom)
        return tom, await tom.start()

    yield start
    for tom in servers:
        await tom.stop()
