"""Every error LensLab raises on purpose shares one root, so callers can catch user mistakes in one place."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

from engine.errors import LensLabError

ROOT = Path(__file__).resolve().parent.parent
CORE = ("engine", "promptsets", "sweeps", "cli", "lens", "cluster", "memory", "compare", "edit", "world",
        "patch", "unlearn", "probe")


def _core_modules() -> list[str]:
    """Dotted names of every core module (``__main__`` entries excluded: importing them runs a CLI)."""
    names = []
    for pkg in CORE:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__main__":
                continue
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _error_types() -> dict[str, type[BaseException]]:
    """Every exception class defined (not just imported) in a core module."""
    found = {}
    for name in _core_modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if (inspect.isclass(value) and issubclass(value, BaseException)
                    and value.__module__ == module.__name__):
                found[f"{name}.{attr}"] = value
    return found


def test_every_core_error_type_derives_from_the_root():
    errors = _error_types()
    # The packages that define their own errors are all found, so the walk really looked.
    for expected in ("engine.errors.EngineError", "lens.errors.LensError", "cluster.errors.ClusterError",
                     "memory.inject.MemorySpecError", "compare.errors.CompareError",
                     "promptsets.schema.PromptSetError", "edit.spec.EditError", "unlearn.data.UnlearnError",
                     "unlearn.sweep.UnlearnResumeError"):
        assert expected in errors
    strays = sorted(name for name, cls in errors.items() if not issubclass(cls, LensLabError))
    assert strays == []


def test_only_the_engine_raises_engine_errors():
    """One base per meaning: a package's errors sit on the root, not on the engine's own base."""
    from engine.errors import EngineError

    borrowed = sorted(name for name, cls in _error_types().items()
                      if issubclass(cls, EngineError) and not name.startswith("engine."))
    assert borrowed == []


@pytest.mark.parametrize("name", ["cluster.errors.ClusterError", "promptsets.schema.PromptSetError",
                                  "engine.errors.OutOfRangeError"])
def test_root_does_not_change_what_existing_callers_catch(name):
    # Code that caught ValueError / IndexError before the root existed still catches them.
    module, attr = name.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), attr)
    assert issubclass(cls, LensLabError)
    assert issubclass(cls, (ValueError, IndexError))
