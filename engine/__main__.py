"""Entry point of ``python -m engine`` (the engine imports no other LensLab package, so not cli.entry)."""

import sys

try:
    from engine.cli import main

    code = main()
except KeyboardInterrupt:
    print("interrupted", file=sys.stderr)
    code = 130
sys.exit(code)
