"""Entry point of ``python -m lens``."""

import sys

from cli.entry import run_main

sys.exit(run_main("lens.cli"))
