"""Entry point of ``python -m unlearn``."""

import sys

from cli.entry import run_main

sys.exit(run_main("unlearn.cli"))
