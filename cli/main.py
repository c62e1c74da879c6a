"""``lenslab``: every LensLab command under one name, beside the ``python -m`` forms.

``lenslab lens train ...`` runs exactly what ``python -m lens train ...`` runs; ``lenslab app``
starts the browser app (``serve.py``, as ``./run.sh app`` does)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Sequence

from cli.entry import INTERRUPTED, import_command

# Command -> (module whose main(argv) runs it, what it does).
COMMANDS = {
    "engine": ("engine.__main__", "fetch a model from the Hugging Face Hub (safetensors only)"),
    "lens": ("lens.cli", "train, evaluate and import Attention Lenses"),
    "cluster": ("cluster.cli", "find neuron clusters, impairment curves and sweeps"),
    "memory": ("memory.__main__", "memory injection: one prompt, or a sweep"),
    "edit": ("edit.__main__", "rewrite a fact in one layer; edit sweeps"),
    "compare": ("compare.cli", "linear CKA, clean against impaired or between models"),
    "patch": ("patch.cli", "activation patching, clean against corrupted"),
    "unlearn": ("unlearn.__main__", "find where a planted secret lives and remove it per run"),
    "probe": ("probe.__main__", "concept probes per layer, their training-data attribution, retraining without it"),
    "world": ("world.cli", "build and check the demo model's synthetic world"),
}
SERVE = Path(__file__).resolve().parent.parent / "serve.py"


def usage() -> str:
    """The command list, as ``lenslab --help`` prints it."""
    rows = [f"  {'app':<9} start the browser app on the demo model (streamlit options may follow)"]
    rows += [f"  {name:<9} {what}" for name, (module, what) in COMMANDS.items() if _available(module)]
    return "usage: lenslab COMMAND [ARGS...]\n\ncommands:\n" + "\n".join(rows) + \
        "\n\n`lenslab COMMAND --help` describes each command's options."


def _available(module: str) -> bool:
    return importlib.util.find_spec(module.split(".")[0]) is not None


def _app(rest: Sequence[str]) -> int:
    """Replace this process by the Streamlit server running ``serve.py``."""
    argv = [sys.executable, "-m", "streamlit", "run", str(SERVE), "--server.headless", "true", *rest]
    os.execv(sys.executable, argv)
    return 0  # not reached


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch ``lenslab COMMAND ARGS`` to the command's own ``main``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name == "app":
        return _app(rest)
    if name not in COMMANDS or not _available(COMMANDS[name][0]):
        known = ", ".join(["app", *(n for n, (m, _) in COMMANDS.items() if _available(m))])
        print(f"error: unknown command {name!r}; the commands are {known}", file=sys.stderr)
        return 2
    module = import_command(COMMANDS[name][0])
    if module is None:
        return INTERRUPTED
    try:
        return int(module.main(rest) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
