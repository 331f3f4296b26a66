"""Assistant lifecycle: a start-up that fails half-way unwinds everything; close is idempotent.

Model resolving and loading are replaced by stand-ins; the unwinding is the real code.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tom import models
from tom.assistant import STAGES, Assistant
from tom.config import Settings
from tom.models import ModelError, ModelSource


class Resource:
    def __init__(self) -> None:
        self.closed = 0

    async def aclose(self) -> None:
        self.closed += 1


@pytest.fixture
def fake_models(monkeypatch):
    """Every stage resolves to a stand-in; `fail_at` names a stage whose load raises."""
    state = {"fail_at": None}
    for stage in STAGES:
        monkeypatch.setitem(models.RESOLVERS, stage,
                            lambda _s, stage=stage: ModelSource(stage, f"fake {stage}",
                                                                Path("/nonexistent"), "test"))

    def loader(self, stage):
        def load(_source):
            if stage == state["fail_at"]:
                raise RuntimeError("corrupt file")
            return object()
        return load

    monkeypatch.setattr(Assistant, "_loader", loader)
    return state


def workers_closed(assistant: Assistant) -> bool:
    return all(w._pool._shutdown for w in assistant.workers.values())


async def test_a_model_that_fails_to_load_leaves_no_worker_running(fake_models):
    fake_models["fail_at"] = "tts"
    assistant = Assistant(Settings())
    with pytest.raises(ModelError, match="tts model .* failed to load"):
        await assistant.start()
    assert set(assistant.workers) == set(STAGES) and workers_closed(assistant)
    assert not assistant.ready
    await assistant.close()  # nothing to close, no error
    with pytest.raises(RuntimeError, match="not started"):
        await assistant.open_call(transport="test")


async def test_a_failed_warm_up_unwinds_what_wiring_started(fake_models, monkeypatch):
    resource = Resource()

    async def wire(self, stack):
        stack.push_async_callback(resource.aclose)  # e.g. the webhook sender, the LLM client
        return object()

    async def warm_up(self):
        raise RuntimeError("the STT model crashed on silence")

    monkeypatch.setattr(Assistant, "_wire", wire)
    monkeypatch.setattr(Assistant, "_warm_up", warm_up)
    assistant = Assistant(Settings())
    with pytest.raises(RuntimeError, match="crashed"):
        await assistant.start()
    assert resource.closed == 1 and workers_closed(assistant) and not assistant.ready


async def test_close_stops_everything_once(fake_models, monkeypatch):
    resource = Resource()

    async def wire(self, stack):
        stack.push_async_callback(resource.aclose)
        return object()

    async def warm_up(self):
        pass

    monkeypatch.setattr(Assistant, "_wire", wire)
    monkeypatch.setattr(Assistant, "_warm_up", warm_up)
    async with Assistant(Settings()) as assistant:
        assert assistant.ready and not workers_closed(assistant)
        assert dict(assistant.calls) == {}
    assert resource.closed == 1 and workers_closed(assistant) and not assistant.ready
    await assistant.close()
    assert resource.closed == 1
