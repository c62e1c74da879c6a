"""Load the model a flag names, so a bad folder or name is reported against that flag."""

from __future__ import annotations

import sys


def load_engine(name: str, flag: str = "--model", device: str = "cpu", dtype: str = "float32"):
    """The engine for ``name`` on ``device`` in ``dtype``; a ModelLoadError's message starts with ``flag``.

    Below float32 a note on stderr says the numbers differ from float32.
    """
    from engine import Engine
    from engine.devices import precision_note
    from engine.errors import ModelLoadError

    try:
        engine = Engine.load(name, device=device, dtype=dtype)
    except ModelLoadError as err:
        raise ModelLoadError(f"{flag}: {err}") from None
    if precision_note(engine.spec.dtype):
        print(precision_note(engine.spec.dtype), file=sys.stderr)
    return engine
