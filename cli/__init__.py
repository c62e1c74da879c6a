"""What every ``python -m ...`` command shares: bounded, typed flags and one-line errors.

The names load on first use (PEP 562), so ``cli.entry`` can start a command before torch is imported.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "Parser": "cli.args", "UsageError": "cli.args", "finite": "cli.args", "out_folder": "cli.args", "parse": "cli.args",
    "positive": "cli.args", "whole": "cli.args", "whole_list": "cli.args", "load_engine": "cli.model",
    "INTERRUPTED": "cli.run", "brief": "cli.run", "run_command": "cli.run",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'cli' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
