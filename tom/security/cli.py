"""`tom hash-password`: turn an operator password into the hash TOM's config stores."""

from __future__ import annotations

import argparse
import getpass
import sys

from tom.security.passwords import DEFAULT_ITERATIONS, hash_password

MIN_PASSWORD_CHARS = 8


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `hash-password` to the `tom` command line."""
    cmd = sub.add_parser("hash-password",
                         help="hash an operator password for [auth] operator_password_hash")
    add_arguments(cmd)
    cmd.set_defaults(func=cmd_hash_password)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stdin", action="store_true",
                        help="read the password from the first line of stdin (for scripts)")
    parser.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS,
                        help=f"PBKDF2 iterations (default {DEFAULT_ITERATIONS})")


def read_password(from_stdin: bool) -> str:
    """The password, asked twice on a terminal; ValueError says what was wrong."""
    if from_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Operator password: ")
        if getpass.getpass("Again: ") != password:
            raise ValueError("the two passwords differ")
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"use at least {MIN_PASSWORD_CHARS} characters")
    return password


def run(args: argparse.Namespace) -> int:
    try:
        encoded = hash_password(read_password(args.stdin), iterations=args.iterations)
    except ValueError as exc:
        print(f"tom hash-password: {exc}", file=sys.stderr)
        return 2
    print(encoded)
    print("Put it in config/tom.toml under [auth] as operator_password_hash = \"...\", or set "
          f"TOM_AUTH_OPERATOR_PASSWORD_HASH='{encoded}' (single quotes: it contains $).",
          file=sys.stderr)
    return 0


async def cmd_hash_password(args: argparse.Namespace, _settings: object) -> int:
    return run(args)
