"""`tom bench` in-process against the real TomServer and models, as `tom bench --calls 2`."""

from __future__ import annotations

import argparse
import json

import pytest

from tom.bench.cli import register, run_bench
from tom.config import Settings

pytestmark = pytest.mark.e2e

FIGURES = ("meta", "calls", "stages", "e2e", "greeting", "barge_in", "barge_in_server",
           "accuracy", "intents", "facts", "mojibake", "resources", "checks", "passed",
           "talk_over", "per_call")


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["bench", *argv])


def _settings(tmp_path) -> Settings:
    return Settings.load(overrides={"data": {"dir": str(tmp_path / "data")}}, env={})


async def test_two_english_calls_report_every_figure(tmp_path):
    out = tmp_path / "bench.json"
    status = await run_bench(_args("--calls", "2", "--concurrency", "2", "--json", str(out),
                                   "--cache", str(tmp_path / "cache"), "--no-progress"),
                             _settings(tmp_path))
    assert status == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    for key in FIGURES:
        assert key in data, key
    assert data["calls"] == {**data["calls"], "total": 2, "failed": 0}, data["calls"]
    assert data["e2e"]["count"] >= 4 and data["e2e"]["p95"] is not None
    assert data["stages"]["stt"]["count"] >= 4
    assert data["stages"]["tts_first_audio"]["count"] >= 4
    assert data["accuracy"]["words"] > 10 and data["accuracy"]["value"] is not None
    assert data["mojibake"]["total"] == 0, data["mojibake"]["examples"]
    assert data["resources"]["cpu_percent"] > 0 and data["resources"]["peak_rss_mb"] > 50
    assert {c["name"] for c in data["checks"]} >= {"stt p95 ms", "llm_first_token p95 ms",
                                                   "tts_first_audio p95 ms",
                                                   "e2e p95 ms (caller)", "accuracy",
                                                   "mojibake", "failed calls %"}


async def test_a_german_call_keeps_its_umlauts(tmp_path):
    out = tmp_path / "bench.json"
    status = await run_bench(_args("--calls", "1", "--language", "de", "--json", str(out),
                                   "--cache", str(tmp_path / "cache"), "--no-progress"),
                             _settings(tmp_path))
    assert status == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["calls"]["failed"] == 0, data["calls"]["failures"]
    assert data["mojibake"]["total"] == 0, data["mojibake"]["examples"]
    said = " ".join(t["text"] for c in data["per_call"] for t in c["transcript"]
                    if t["role"] == "assistant")
    assert any(ch in said for ch in "äöüß"), said  # the German profile's replies, intact


async def test_real_human_recordings_are_heard_as_well_as_stock_whisper_hears_them(tmp_path):
    """Two calls of Asterisk's recorded prompts (a human speaker, not piper) through the phone
    path into TOM: TOM's transcripts against the prompts' texts, beside stock faster-whisper
    on the same audio. Words lost at turn boundaries or to a cut-off turn show as a gap."""
    out = tmp_path / "bench.json"
    status = await run_bench(_args("--callers", "recorded", "--calls", "2", "--json", str(out),
                                   "--no-progress"), _settings(tmp_path))
    assert status == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["calls"]["failed"] == 0, data["calls"]["failures"]
    assert data["meta"]["callers"].startswith("Asterisk core sounds")
    recorded = data["accuracy"]["recorded"]
    assert recorded["words"] > 30, recorded
    assert recorded["stock"] >= 0.9, recorded  # the recordings are clear speech
    assert recorded["gap_points"] <= 5.0, (recorded, data["per_call"])


async def test_recorded_callers_refuse_german_with_a_message(tmp_path, capsys):
    status = await run_bench(_args("--callers", "recorded", "--language", "de",
                                   "--no-progress"), _settings(tmp_path))
    assert status == 2
    assert "recorded prompts are English" in capsys.readouterr().err
