"""The one error type the patch package raises for a user's mistake."""

from engine.errors import LensLabError


class PatchError(LensLabError, ValueError):
    """The prompts, answers or settings of a patching experiment cannot be used (the message says why)."""
