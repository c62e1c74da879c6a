"""Entry point of ``python -m memory``."""

import sys

from cli.entry import run_main

sys.exit(run_main("memory.cli"))
