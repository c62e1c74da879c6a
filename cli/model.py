"""Load the model a flag names, so a bad folder or name is reported against that flag."""

from __future__ import annotations


def load_engine(name: str, flag: str = "--model"):
    """The engine for ``name``; a ModelLoadError's message starts with ``flag``."""
    from engine import Engine
    from engine.errors import ModelLoadError

    try:
        return Engine.load(name)
    except ModelLoadError as err:
        raise ModelLoadError(f"{flag}: {err}") from None
