"""`python -m tom.bench [options]`: the bench without the rest of the tom CLI."""

import sys

import tom  # noqa: F401  (sets OMP_WAIT_POLICY before any engine is imported)
from tom.bench.cli import main

sys.exit(main())
