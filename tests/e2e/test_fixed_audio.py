"""The profile's fixed texts are rendered at start-up: a caller asking an FAQ question hears
greeting, answer and farewell with no TTS work at all (issue 19: less work per call)."""

from __future__ import annotations

import asyncio

import pytest
from tomtest import e2e_settings, running_server

from tom.bench.caller import place_call

pytestmark = pytest.mark.e2e


async def test_a_call_of_fixed_texts_costs_no_synthesis(tmp_path, turn):
    settings = e2e_settings(tmp_path, tts={"prerender": True})
    async with running_server(settings) as server:
        cache = server.assistant.repeats(None)
        for _ in range(600):  # ~10 s on this machine; the bound only stops a hang
            if cache.unrendered == 0:
                break
            await asyncio.sleep(0.1)
        assert cache.unrendered == 0
        misses = cache.misses
        result = await place_call(server.url, [turn("Do you repair e-bikes?"),
                                               turn("Thank you, goodbye.", may_end_call=True)])
        assert result.ok, result.failure
        detail = server.assistant.registry.get(result.call_sid).detail()
        said = [t["text"] for t in detail["transcript"] if t["role"] == "assistant"]
        assert "e-bikes" in said[1], said
        assert cache.misses == misses, said  # every sentence came from the cache
