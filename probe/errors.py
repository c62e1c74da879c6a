"""The one error type the probe package raises for a user's mistake."""

from engine.errors import LensLabError


class ProbeError(LensLabError, ValueError):
    """The concepts file, the concept, the layer or the corpus of a probe cannot be used (the message says why)."""
