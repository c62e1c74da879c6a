"""The error a Ray sweep raises for what a user can fix (no Ray, an unreachable cluster, workers that keep dying)."""

from engine.errors import LensLabError


class RaySweepError(LensLabError):
    """A sweep could not run on Ray; the message says what to check."""
