"""E2E fixtures: a real TomServer on free ports, caller turns spoken by piper."""

from __future__ import annotations

import numpy as np
import pytest
from tomtest import e2e_settings, running_server

from tom.audio import float_to_pcm16
from tom.bench.caller import CallerTurn


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
