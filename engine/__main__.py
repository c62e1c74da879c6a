"""Entry point of ``python -m engine``."""

import sys

from cli.entry import run_main

sys.exit(run_main("engine.cli"))
