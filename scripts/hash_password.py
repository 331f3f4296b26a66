"""Print the operator password hash for [auth] operator_password_hash (same as `tom hash-password`).

    .venv/bin/python scripts/hash_password.py            # asks twice on a terminal
    printf '%s\n' "$PASSWORD" | .venv/bin/python scripts/hash_password.py --stdin
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tom.security.cli import add_arguments, run  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
