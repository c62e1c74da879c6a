"""Entry point of ``python -m cluster``."""

import sys

from cli.entry import run_main

sys.exit(run_main("cluster.cli"))
