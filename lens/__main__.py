"""Entry point of ``python -m lens``."""

import sys

from lens.cli import main

sys.exit(main())
