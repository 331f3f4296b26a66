"""`tom bench --url` end to end against the fake Twilio-protocol TOM (no models needed)."""

from __future__ import annotations

import argparse
import json

import pytest

from tom.bench.cli import register, run_bench
from tom.bench.fake_tom import FakeTom

CORPUS = """
[[turns]]
id = "hours"
lang = "en"
intent = "question"
text = "Are you open on Saturday"

[[turns]]
id = "bye"
lang = "en"
intent = "goodbye"
text = "Thank you goodbye"

[[calls]]
id = "short"
turns = ["hours", "bye"]
"""


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["bench", *argv])


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.toml"
    path.write_text(CORPUS, encoding="utf-8")
    return path


@pytest.mark.parametrize(("mode", "failed"), [("ok", 0), ("never_answer", 2)])
async def test_bench_against_a_url_writes_every_figure(tmp_path, corpus, mode, failed):
    fake = FakeTom(mode=mode)
    url = await fake.start()
    try:
        out = tmp_path / "bench.json"
        status = await run_bench(_args(
            "--url", url, "--calls", "2", "--concurrency", "2", "--corpus", str(corpus),
            "--json", str(out), "--cache", str(tmp_path / "cache"), "--no-progress",
            "--answer-timeout", "2", "--greeting-timeout", "3", "--strict"))
    finally:
        await fake.stop()
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["calls"]["total"] == 2 and data["calls"]["failed"] == failed
    assert status == 1  # --strict: the fake never hits every target (no STT, no stages)
    if mode == "ok":
        assert data["e2e"]["count"] == 4 and data["e2e"]["p50"] >= 100
        assert data["greeting"]["count"] == 2
        assert data["meta"]["target"] == url
    else:
        assert all("no answer" in f["failure"] for f in data["calls"]["failures"])
    assert data["resources"]["cpu_percent"] is None  # the fake has no /metrics


async def test_bench_refuses_an_unknown_language_corpus(tmp_path, corpus):
    status = await run_bench(_args("--url", "ws://127.0.0.1:9/twilio/stream", "--corpus",
                                   str(corpus), "--language", "de", "--no-progress"))
    assert status == 2


async def test_sweep_stops_at_the_first_level_that_does_not_hold(tmp_path, corpus):
    from tom.bench.caller import Timeouts
    from tom.bench.corpus import load_corpus
    from tom.bench.run import BenchOptions, bench

    # answers slow down by 400 ms per open call: 3 calls at once cannot answer within 1 s
    fake = FakeTom(delay_per_call_ms=400)
    url = await fake.start()
    try:
        options = BenchOptions(url=url, calls=1, sweep=True, sweep_levels=(1, 3, 6),
                               cache_dir=tmp_path / "cache",
                               timeouts=Timeouts(greeting_s=3, answer_s=5))
        report = await bench(load_corpus(corpus), options)
    finally:
        await fake.stop()
    sweep = report.sweep
    levels = [level["concurrency"] for level in sweep["levels"]]
    assert levels in ([1], [1, 3])
    for level in sweep["levels"]:
        held = level["e2e_p95"] is not None and level["e2e_p95"] <= 1000 \
            and level["failed_pct"] < 2
        assert level["held"] is held
    assert sweep["levels"][-1]["held"] is False  # 3 calls: >= 1200 ms before any answer
    assert sweep["max_held"] == (1 if levels == [1, 3] else 0)
    assert len(report.records) == 1  # the figures are those of the last level that held


async def test_a_sweep_over_given_levels_measures_them_all(tmp_path, corpus):
    from tom.bench.caller import Timeouts
    from tom.bench.corpus import load_corpus
    from tom.bench.run import BenchOptions, bench

    fake = FakeTom(delay_per_call_ms=400)
    url = await fake.start()
    try:
        options = BenchOptions(url=url, calls=1, sweep=True, sweep_levels=(1, 3),
                               sweep_all=True, cache_dir=tmp_path / "cache",
                               timeouts=Timeouts(greeting_s=3, answer_s=5))
        report = await bench(load_corpus(corpus), options)
    finally:
        await fake.stop()
    levels = report.sweep["levels"]
    assert [level["concurrency"] for level in levels] == [1, 3]  # on past the first miss
    assert levels[1]["held"] is False
    for level in levels:  # each level says what its calls cost ("none" without /metrics)
        assert set(level["cost"]) >= {"call_minutes", "cpu_s_per_call_minute", "rss_mb_per_call"}
        assert level["cost"]["call_minutes"] > 0


def test_sweep_levels_on_the_command_line():
    args = _args("--sweep-levels", "8,1,4,4")
    from tom.bench.cli import options_from_args

    options = options_from_args(args)
    assert options.sweep and options.sweep_all and options.sweep_levels == (1, 4, 8)
    with pytest.raises(SystemExit):
        _args("--sweep-levels", "1,x")
