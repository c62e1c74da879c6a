"""Exception types for memory injection mistakes a user can make.

They subclass the engine's error types, so a page that catches ``EngineError``
shows them too, and every message says how to fix the input.
"""

from engine.errors import LensLabError


class MemorySpecError(LensLabError, ValueError):
    """A memory or sweep is ill-specified (empty memory text, unknown source, bad scale list, ...)."""


class SweepResumeError(LensLabError, RuntimeError):
    """An output folder holds a sweep made with other settings, so it cannot be resumed."""
