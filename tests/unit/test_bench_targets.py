"""Bench targets: in-process settings, the log tap, /metrics parsing, URL handling."""

from __future__ import annotations

import logging

from tom.bench.targets import RemoteTarget, _LogTap, _metric, bench_settings
from tom.config import Settings


def test_in_process_settings_use_a_free_port_and_german_models(tmp_path):
    base = Settings.load(env={})
    de = bench_settings(base, "de", 6, str(tmp_path))
    assert (de.server.port, de.server.host) == (0, "127.0.0.1")
    assert de.server.max_calls >= 6 and not de.audiosocket.enabled
    assert (de.stt.model, de.stt.language, de.assistant.language) == ("base", "de", "de")
    assert de.data.dir == str(tmp_path) and de.redis.url == ""
    en = bench_settings(base, "en", 1, str(tmp_path))
    assert (en.stt.model, en.stt.language) == (base.stt.model, "en")


def test_log_tap_keeps_only_lines_with_mojibake():
    tap = _LogTap(logging.Formatter("%(message)s"))
    logger = logging.getLogger("tom.test.bench.tap")
    logger.addHandler(tap)
    logger.setLevel(logging.INFO)
    try:
        logger.info("caller said Grüße aus Köln")
        logger.info("caller said GrÃ¼ÃŸe")
    finally:
        logger.removeHandler(tap)
    assert tap.lines == 2
    assert tap.bad_lines == ["caller said GrÃ¼ÃŸe"]


def test_metric_parsing():
    text = ("# HELP process_cpu_seconds_total CPU\nprocess_cpu_seconds_total 12.5\n"
            'process_resident_memory_bytes{job="x"} 1.048576e+08\n')
    assert _metric(text, "process_cpu_seconds_total") == 12.5
    assert _metric(text, "process_resident_memory_bytes") == 104857600.0
    assert _metric(text, "process_open_fds") is None


def test_remote_target_base_url():
    for url in ("ws://h:8080/twilio/stream", "http://h:8080", "http://h:8080/"):
        assert RemoteTarget(url, "", None).base == "http://h:8080"  # type: ignore[arg-type]
    assert RemoteTarget("wss://tom.example.org/twilio/stream", "", None).base == \
        "https://tom.example.org"  # type: ignore[arg-type]


async def test_in_process_transcript_lines_carry_their_unix_time_as_the_api_does():
    """`--backchannels` judges by when TOM recorded each line, in-process as with --url."""
    from tom.bench.targets import InProcessTarget
    from tom.monitor import events as ev

    target = InProcessTarget(Settings())
    target._on_event(ev.Transcript(call_id="CA1", role=ev.Role.ASSISTANT, text="Hello!",
                                   turn=0, wall=1_700_000_000.5))
    target._on_event(ev.CallEnded(call_id="CA1", outcome=ev.Outcome.COMPLETED, duration_s=1.0,
                                  transport="twilio"))
    info = await target.call_info("CA1", wait_s=0.1)
    assert info.transcript == [{"role": "assistant", "text": "Hello!", "turn": 0,
                                "interrupted": False, "joins": None, "wall": 1_700_000_000.5}]
