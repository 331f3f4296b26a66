"""Shared fixtures: caller speech synthesized with the bundled piper voice (cached per session)."""

from __future__ import annotations

import functools
import os

# Every call in the suite (and in the subprocesses it starts) runs a strict call flow: a trigger
# the FSM does not allow raises instead of being logged, so a wrong transition fails a test.
os.environ.setdefault("TOM_STRICT_FLOW", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import tom  # noqa: F401,E402  (sets OMP_WAIT_POLICY before engines load)


@functools.lru_cache(maxsize=1)
def _voice():
    from piper import PiperVoice

    from tom.config import Settings
    from tom.models import resolve_tts

    return PiperVoice.load(str(resolve_tts(Settings.from_dict({})).path))


@functools.lru_cache(maxsize=256)
def _speak(text: str, rate: int) -> np.ndarray:
    from tom.audio import resample

    voice = _voice()
    audio = np.concatenate([c.audio_float_array for c in voice.synthesize(text)])
    return resample(audio * 0.6, voice.config.sample_rate, rate)


@pytest.fixture(scope="session")
def speech():
    """`speech(text, rate=16000)` → float32 mono audio of the text, spoken by piper."""

    def make(text: str, rate: int = 16000) -> np.ndarray:
        return _speak(text, rate).copy()

    return make


# `make test` and CI set this: a test skipped for a missing system package (redis-server, chromium,
# node, ...) fails instead, so a fresh machine cannot pass by skipping (issue 17, finding 9).
REQUIRE_SYSTEM_PACKAGES = os.environ.get("TOM_REQUIRE_SYSTEM_PACKAGES") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_SYSTEM_PACKAGES and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        reason = str(reason).removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = (f"skipped ({reason}), but TOM_REQUIRE_SYSTEM_PACKAGES=1 requires every "
                           "test to run: scripts/install-system-packages.sh installs what is "
                           "missing")


def pytest_runtest_setup(item):
    """A re-run (`flaky(reruns=1)`) hears a fresh piper rendering of its callers: piper's output
    differs per synthesis, and replaying the cached audio that failed would fail the same way."""
    if getattr(item, "execution_count", 1) > 1:
        _speak.cache_clear()
