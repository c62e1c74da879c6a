"""``python -m edit``: see edit/cli.py."""

import sys

from edit.cli import main

sys.exit(main())
