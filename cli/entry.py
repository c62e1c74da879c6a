"""How every ``python -m`` command starts: Ctrl-C while the command imports is held, then ends it in one line.

Importing a command takes seconds (torch). A KeyboardInterrupt raised while native import code calls back
into Python can abort the whole process ("terminate called after throwing ..."), so a press during the
import is only noted, and the command stops once the import is done. Standard library only: this runs
before anything heavy is imported.
"""

from __future__ import annotations

import importlib
import signal
import sys
from types import ModuleType
from typing import Callable

INTERRUPTED = 130


def import_command(module: str) -> ModuleType | None:
    """``module``, imported with Ctrl-C held; None (after one line on stderr) when Ctrl-C came meanwhile."""
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        loaded = importlib.import_module(module)
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        print("interrupted", file=sys.stderr)
        return None
    return loaded


def run_main(module: str) -> int:
    """``module.main()`` as a process exit status (130 after Ctrl-C at any moment)."""
    loaded = import_command(module)
    if loaded is None:
        return INTERRUPTED
    try:
        return int(loaded.main() or 0)
    except KeyboardInterrupt:  # between the import and the command's own handler
        print("interrupted", file=sys.stderr)
        return INTERRUPTED


def lazy_exports(package: str, homes: dict[str, list[str]]) -> tuple[Callable[[str], object], list[str]]:
    """``(__getattr__, __all__)`` for ``package`` whose public names (``{module: [names]}``) import on first use
    (PEP 562), so ``python -m package`` gets to ``run_main`` before torch loads."""
    where = {name: module for module, names in homes.items() for name in names}

    def __getattr__(name: str) -> object:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__, sorted(where)
