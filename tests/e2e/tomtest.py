"""Helpers for e2e tests: settings for a throwaway server and the server itself."""

from __future__ import annotations

import contextlib
from pathlib import Path

from tom.config import DEFAULT_CONFIG, Settings

DEMO_PROFILE = DEFAULT_CONFIG.parent / "profile.toml"


def always_transferable_profile(tmp_path: Path) -> Path:
    """The demo profile, but transfers work at any hour (tests must not depend on the clock)."""
    text = DEMO_PROFILE.read_text(encoding="utf-8")
    assert "only_during_hours = true" in text
    path = tmp_path / "profile.toml"
    path.write_text(text.replace("only_during_hours = true", "only_during_hours = false"),
                    encoding="utf-8")
    return path


def e2e_settings(tmp_path, **sections) -> Settings:
    """Settings for a test server: free ports, its own data dir, overrides per section."""
    raw = {"server": {"port": 0}, "audiosocket": {"port": 0},
           "data": {"dir": str(tmp_path / "data")},
           # no refusals by load: tests share two cores with whatever else runs, and admission
           # by load has its own test (test_admission_calls.py)
           "limits": {"admit_queue_p95_ms": 0},
           # no background rendering competing with the test's calls (tested on its own)
           "tts": {"prerender": False},
           "assistant": {"profile": str(always_transferable_profile(tmp_path))}}
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
