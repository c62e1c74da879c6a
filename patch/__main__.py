"""Entry point of ``python -m patch``."""

import sys

from cli.entry import run_main

sys.exit(run_main("patch.cli"))
