"""Entry point of ``python -m probe``."""

import sys

from cli.entry import run_main

sys.exit(run_main("probe.cli"))
