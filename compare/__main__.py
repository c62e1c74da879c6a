"""``python -m compare``: see compare/cli.py."""

import sys

from compare.cli import main

sys.exit(main())
