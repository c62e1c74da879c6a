"""Entry point of ``python -m lens``."""

import sys

try:
    from lens.cli import main

    code = main()
except KeyboardInterrupt:  # Ctrl-C before a command runs (torch takes seconds to import): one line, as later
    print("interrupted", file=sys.stderr)
    code = 130
sys.exit(code)
