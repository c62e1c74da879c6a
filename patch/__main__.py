"""``python -m patch``: see patch/cli.py."""

import sys

from patch.cli import main

sys.exit(main())
