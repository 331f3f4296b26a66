"""`tom serve | talk | models | bench | eval | check-profile`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import tom  # noqa: F401  (sets OMP_WAIT_POLICY before any engine is imported)
from tom.config import ConfigError, Settings

# Commands that open the data dir (and, for serve, the ports): checked before the models load.
# `tom serve` runs the same pre-flight (ports included) inside TomServer.start, before the models.
NEEDS_DATA = ("talk",)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = _settings(args)
    except ConfigError as exc:
        print(f"tom: bad configuration: {exc}", file=sys.stderr)
        return 2
    from tom.monitor.logging import configure_logging

    configure_logging(getattr(args, "log_format", None) or settings.log.format,
                      settings.log.level, settings.log.redact)
    from tom.conversation.profile import ProfileError
    from tom.models import ModelError
    from tom.security.startup import StartupError, preflight

    try:
        if args.command in NEEDS_DATA:  # before anything heavy: no traceback after the models
            preflight(settings, ports=False)
        return asyncio.run(args.func(args, settings)) or 0
    except StartupError as exc:
        print(f"tom {args.command}: cannot start: {exc}", file=sys.stderr)
        return 2
    except ModelError as exc:
        print(f"tom: model problem: {exc}", file=sys.stderr)
        return 3
    except (ConfigError, ProfileError) as exc:
        print(f"tom: bad configuration: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tom", description="TOM, the offline telephone assistant")
    parser.add_argument("--config", help="TOML config file (default config/tom.toml)")
    parser.add_argument("--log-format", choices=("auto", "json", "console"))
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="answer calls (Twilio, AudioSocket, browser)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)

    talk = sub.add_parser("talk", help="talk to TOM from a WAV file or the microphone")
    source = talk.add_mutually_exclusive_group(required=True)
    source.add_argument("--wav", type=Path, help="caller audio (any rate, mono or stereo)")
    source.add_argument("--mic", action="store_true", help="use the default microphone/speaker")
    talk.add_argument("--out", type=Path, help="write what the caller hears (8 kHz WAV)")
    talk.add_argument("--json", action="store_true", help="one JSON object per turn")
    talk.set_defaults(func=cmd_talk)

    models = sub.add_parser("models", help="list each stage's model, origin, size, load time")
    models.add_argument("--no-load", action="store_true", help="only resolve, do not load")
    models.set_defaults(func=cmd_models)

    _register_optional(sub)
    return parser


def _register_optional(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from tom.bench.cli import register as register_bench
    from tom.conversation.cli import register as register_eval
    from tom.conversation.cli import register_check_profile
    from tom.security.cli import register as register_hash_password

    register_bench(sub)
    register_eval(sub)
    register_check_profile(sub)
    register_hash_password(sub)


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, dict[str, object]] = {}
    if getattr(args, "host", None):
        overrides.setdefault("server", {})["host"] = args.host
    if getattr(args, "port", None) is not None:
        overrides.setdefault("server", {})["port"] = args.port
    return Settings.load(args.config, overrides=overrides)


async def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from tom.server import ServerStartError, serve

    try:
        await serve(settings)
    except ServerStartError as exc:  # a port taken since the pre-flight; says what to change
        print(f"tom serve: cannot start: {exc}", file=sys.stderr)
        return 2
    return 0


async def cmd_talk(args: argparse.Namespace, settings: Settings) -> int:
    from tom.assistant import Assistant
    from tom.telephony.local import talk_mic, talk_wav

    if args.wav is not None and not args.wav.is_file():
        print(f"tom talk: {args.wav} does not exist", file=sys.stderr)
        return 2
    async with Assistant(settings) as assistant:
        if args.mic:
            await talk_mic(assistant, as_json=args.json)
        else:
            try:
                await talk_wav(assistant, args.wav, args.out, as_json=args.json)
            except ValueError as exc:  # unreadable WAV
                print(f"tom talk: {exc}", file=sys.stderr)
                return 2
    return 0


async def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console
    from rich.table import Table

    from tom import models

    table = Table(title="TOM models")
    for column in ("stage", "model", "origin", "size", "load", "path"):
        table.add_column(column)
    if args.no_load:
        rows = [models.LoadedModel(resolver(settings), None, float("nan")).describe()
                for resolver in models.RESOLVERS.values()]
    else:
        from tom.assistant import Assistant

        assistant = Assistant(settings)
        await assistant.start()
        rows = assistant.describe_models()
        await assistant.close()
    for r in rows:
        load = "-" if r["load_s"] != r["load_s"] else f"{r['load_s']:.2f} s"
        table.add_row(r["stage"], r["name"], r["origin"], f"{r['size_mb']:.1f} MB", load, r["path"])
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
