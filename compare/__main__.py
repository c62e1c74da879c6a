"""Entry point of ``python -m compare``."""

import sys

from cli.entry import run_main

sys.exit(run_main("compare.cli"))
