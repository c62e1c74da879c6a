"""Load the model a flag names, so a bad folder or name is reported against that flag."""

from __future__ import annotations

import argparse
import atexit
import shutil
import sys
import tempfile

# How this command finds and places its models (``--offline``, ``--device-map``), set once its flags are parsed.
_LOADING: dict = {"offline": False, "device_map": None}


def remember_loading(args: argparse.Namespace) -> None:
    """Keep the parsed ``--offline`` / ``--device-map`` for every model this command loads."""
    _LOADING.update(offline=bool(getattr(args, "offline", False)), device_map=getattr(args, "device_map", None))


def _offload_folder() -> str:
    """A temporary folder for weights that fit neither a GPU nor the CPU, removed at exit."""
    folder = tempfile.mkdtemp(prefix="lenslab-offload-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def load_engine(name: str, flag: str = "--model", device: str = "cpu", dtype: str = "float32"):
    """The engine for ``name`` on ``device`` in ``dtype``; a ModelLoadError's message starts with ``flag``.

    A Hub name not in the cache is downloaded (the Hub's progress bars on stderr) unless ``--offline``.
    Below float32 a note on stderr says the numbers differ from float32.
    """
    from engine import Engine
    from engine.loading import precision_note
    from engine.errors import ModelLoadError

    device_map = _LOADING["device_map"]
    try:
        engine = Engine.load(name, device=device, dtype=dtype, offline=_LOADING["offline"], device_map=device_map,
                             offload_folder=_offload_folder() if device_map else None)
    except ModelLoadError as err:
        raise ModelLoadError(f"{flag}: {err}") from None
    if precision_note(engine.spec.dtype):
        print(precision_note(engine.spec.dtype), file=sys.stderr)
    return engine
