"""Entry point of ``python -m edit``."""

import sys

from cli.entry import run_main

sys.exit(run_main("edit.cli"))
