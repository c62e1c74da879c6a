"""``python -m memory``: see memory/cli.py."""

import sys

from memory.cli import main

sys.exit(main())
