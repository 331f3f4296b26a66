"""`tom bench`: scripted callers against TOM, figures against targets.

Wired into `tom` by `register(subparsers)`; also runs alone as `python -m tom.bench`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tom.bench.caller import Timeouts
from tom.bench.corpus import Corpus, CorpusError, load_corpus
from tom.bench.line import LineEcho
from tom.bench.report import BenchReport, CallRecord
from tom.bench.run import SWEEP_LEVELS, BenchOptions, bench
from tom.bench.table import render
from tom.config import Settings


def register(
        subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add the `bench` command; its handler is `run_bench(args, settings)` (async)."""
    p = subparsers.add_parser(
        "bench", help="call TOM with scripted callers and report latency, accuracy, failures",
        description="Place scripted calls over the Twilio Media Streams protocol at real-time "
                    "pace and report every stage against its target. Without --url TOM is "
                    "started in this process.")
    p.add_argument("--url", help="a running TOM (http://HOST:PORT or ws://HOST:PORT/twilio/stream)")
    p.add_argument("--token", default="", help="stream token for --url (sent as ?token=)")
    p.add_argument("--calls", type=_positive, default=4,
                   help="calls to place (per language with --language all; default 4)")
    p.add_argument("--concurrency", type=_positive, default=1, help="calls at once (default 1)")
    p.add_argument("--corpus", type=Path, help="caller corpus TOML (default: the bundled one)")
    p.add_argument("--noise", type=float, metavar="SNR_DB", help="mix pink noise at this SNR")
    path = p.add_mutually_exclusive_group()
    path.add_argument("--phone-path", dest="phone_path", action="store_true", default=True,
                      help="band-limit callers to 300-3400 Hz with μ-law companding (default)")
    path.add_argument("--clean", dest="phone_path", action="store_false",
                      help="no phone band filter (audio is still 8 kHz μ-law on the wire)")
    p.add_argument("--line", type=_line_echo, metavar="echo:-25dB@120ms",
                   help="the line sends TOM's own voice back, this much quieter and later")
    p.add_argument("--pauses", type=_pause_ms, default=0, metavar="MS",
                   help="a caller who stops to think: a pause of MS ms (≤ 3000) inside every "
                        "utterance of 1.5 s or more, after a word no sentence ends on ('I'd "
                        "like to book a … service'; none where there is none; recordings: mid-way); "
                        "reports the pauses TOM took for an end of turn (target < 5 %%)")
    p.add_argument("--backchannels", action="store_true",
                   help="the caller says \"okay\", \"mhm\", \"I see\" (German: \"ja\", "
                        "\"genau\") 0.8-2.5 s into TOM's replies (seeded); reports how often "
                        "TOM went on (target ≥ 90 %%), stopped, or answered it as a turn")
    p.add_argument("--babble", type=float, metavar="SNR_DB",
                   help="mix babble (4 other callers' utterances at once, never the caller's "
                        "own words) under every caller utterance at this SNR")
    p.add_argument("--callers", choices=("piper", "recorded"), default="piper",
                   help="who calls: synthesised voices (piper, MBROLA for German), or real "
                        "human recordings (Asterisk's core sound prompts, Debian "
                        "asterisk-core-sounds-en-wav; compared with stock faster-whisper)")
    p.add_argument("--recordings", type=Path, metavar="DIR",
                   help="folder of the recorded prompts (WAV + core-sounds-en.txt) for "
                        "--callers recorded (default: the installed Debian package)")
    p.add_argument("--json", type=Path, metavar="FILE", help="write every figure as JSON")
    p.add_argument("--sweep", action="store_true",
                   help=f"raise concurrency {', '.join(map(str, SWEEP_LEVELS[:6]))}... until "
                        "p95 e2e > 1 s; report the largest that held")
    p.add_argument("--sweep-levels", type=_levels, metavar="N,N,...",
                   help="with --sweep: exactly these concurrency levels, all of them measured "
                        "(e.g. 1,2,4,8)")
    p.add_argument("--language", choices=("en", "de", "all", "mixed"), default="en",
                   help="which corpus calls to place; German runs TOM with stt.model=base; "
                        "mixed: German and English callers on one German TOM that follows "
                        "the caller's language (assistant.languages = [de, en])")
    p.add_argument("--cache", type=Path, help="synthesised caller audio cache "
                                              "(default ~/.cache/tom/bench)")
    p.add_argument("--greeting-timeout", type=float, default=20.0, metavar="S")
    p.add_argument("--answer-timeout", type=float, default=20.0, metavar="S")
    p.add_argument("--no-greeting", action="store_true",
                   help="with --url: TOM does not greet (call.greeting = false)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--strict", action="store_true", help="exit 1 when any target is missed")
    p.add_argument("--abuse", action="store_true",
                   help="one good call on an idle TOM, then again while 4 sources abuse it "
                        "(refusal storm, floods, idle connections); audio gaps and e2e side "
                        "by side (in-process only)")
    p.set_defaults(func=run_bench)
    return p


def _levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(sorted({_positive(part) for part in text.split(",") if part.strip()}))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"a comma-separated list of counts, got {text!r}") from exc
    if not levels:
        raise argparse.ArgumentTypeError("give at least one level")
    return levels


def _line_echo(text: str) -> LineEcho:
    try:
        return LineEcho.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _pause_ms(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"milliseconds, got {text!r}") from None
    if not 0 <= value <= 3000:
        raise argparse.ArgumentTypeError(f"between 0 and 3000 ms, got {value}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def options_from_args(args: argparse.Namespace) -> BenchOptions:
    return BenchOptions(
        url=args.url, token=args.token, calls=args.calls, concurrency=args.concurrency,
        language=args.language, snr_db=args.noise, phone_path=args.phone_path,
        pause_ms=getattr(args, "pauses", 0),
        sweep=args.sweep or bool(args.sweep_levels),
        sweep_levels=args.sweep_levels or SWEEP_LEVELS, sweep_all=bool(args.sweep_levels),
        cache_dir=args.cache, expect_greeting=not args.no_greeting,
        timeouts=Timeouts(greeting_s=args.greeting_timeout, answer_s=args.answer_timeout),
        echo=getattr(args, "line", None), callers=getattr(args, "callers", "piper"),
        recordings_dir=getattr(args, "recordings", None),
        backchannels=getattr(args, "backchannels", False),
        babble_snr_db=getattr(args, "babble", None))


async def run_bench(args: argparse.Namespace, settings: Settings | None = None) -> int:
    """Run `tom bench` from parsed arguments; returns the exit status."""
    console = Console(stderr=True)
    if getattr(args, "abuse", False):
        return await run_abuse(args, settings, console)
    try:
        corpus = load_corpus(args.corpus)
        options = options_from_args(args)
        report = await _with_progress(corpus, options, settings, console,
                                      enabled=not args.no_progress)
    except CorpusError as exc:
        console.print(f"[red]tom bench:[/red] {exc}")
        return 2
    render(report, Console())
    if args.json:
        write_json(report, args.json)
        console.print(f"figures written to {args.json}")
    return 1 if args.strict and not report.passed() else 0


async def _with_progress(corpus: Corpus, options: BenchOptions, settings: Settings | None,
                         console: Console, enabled: bool) -> BenchReport:
    total = None if options.sweep else options.calls * (
        2 if options.language == "all" and options.url is None else 1)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, disable=not enabled,
                  redirect_stdout=False, redirect_stderr=False) as bar:
        task = bar.add_task("calls", total=total)
        failed = 0

        def advance(record: CallRecord) -> None:
            nonlocal failed
            failed += not record.result.ok
            bar.update(task, advance=1, description=f"calls ({failed} failed)")

        return await bench(corpus, options, settings, advance)


async def run_abuse(args: argparse.Namespace, settings: Settings | None,
                    console: Console) -> int:
    """`tom bench --abuse`: print (and save with --json) the idle and abused figures."""
    from tom.bench.abuse_bench import abuse_bench, render_abuse
    from tom.bench.synth import CallerVoice

    if args.url:
        console.print("[red]tom bench:[/red] --abuse starts its own TOM on loopback; "
                      "leave out --url")
        return 2
    try:
        figures = await abuse_bench(settings or Settings.load(), CallerVoice(args.cache),
                                    load_corpus(args.corpus), options_from_args(args).timeouts)
    except CorpusError as exc:
        console.print(f"[red]tom bench:[/red] {exc}")
        return 2
    render_abuse(figures, Console())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        console.print(f"figures written to {args.json}")
    return 1 if args.strict and not figures["passed"] else 0


def write_json(report: BenchReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n",
                    encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """`python -m tom.bench ...` without the rest of the tom CLI."""
    import asyncio

    parser = argparse.ArgumentParser(prog="tom")
    parser.add_argument("--config", help="TOML config file for the in-process TOM")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(["bench", *(argv if argv is not None else sys.argv[1:])])
    settings = Settings.load(args.config)
    from tom.monitor.logging import configure_logging

    configure_logging(settings.log.format, settings.log.level, settings.log.redact)
    return asyncio.run(run_bench(args, settings))
