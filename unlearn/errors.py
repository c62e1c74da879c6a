"""The one error type the unlearn package raises for a user's mistake."""

from engine.errors import LensLabError


class UnlearnError(LensLabError, ValueError):
    """Secrets, a method, a budget or a clean-text file cannot be used (the message says how to fix it)."""
