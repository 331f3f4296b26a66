"""E2E fixtures: a real TomServer on free ports, caller turns spoken by piper."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from tom.audio import float_to_pcm16
from tom.bench.caller import CallerTurn
from tom.config import Settings


def e2e_settings(tmp_path, **sections) -> Settings:
    """Settings for a test server: free ports, its own data dir, overrides per section."""
    raw = {"server": {"port": 0}, "audiosocket": {"port": 0},
           "data": {"dir": str(tmp_path / "data")}}
    for section, values in sections.items():
        raw.setdefault(section, {}).update(values)
    return Settings.load(overrides=raw, env={})


@contextlib.asynccontextmanager
async def running_server(settings: Settings):
    from tom.server import TomServer

    server = TomServer(settings)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(scope="module")
async def server(tmp_path_factory):
    settings = e2e_settings(tmp_path_factory.mktemp("tom"), server={"max_calls": 3})
    async with running_server(settings) as srv:
        yield srv


@pytest.fixture(scope="session")
def turn(speech):
    """`turn(text, **CallerTurn fields)` → a CallerTurn of PCM16 8 kHz with silence around it."""

    def make(text: str, **kw) -> CallerTurn:
        audio = np.concatenate([np.zeros(1600), speech(text, 8000), np.zeros(800)])
        return CallerTurn(audio=float_to_pcm16(audio), text=text, id=kw.pop("id", text[:20]), **kw)

    return make
