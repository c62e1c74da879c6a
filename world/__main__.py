"""Entry point of ``python -m world``."""

import sys

from cli.entry import run_main

sys.exit(run_main("world.cli"))
