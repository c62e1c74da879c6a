"""Exception types for comparisons a user can ask for but that cannot be made."""

from engine.errors import LensLabError


class CompareError(LensLabError, ValueError):
    """A comparison is undefined for these inputs (too few positions, a constant representation, ...)."""


class TokenizerMismatchError(CompareError):
    """Two models tokenise differently, so their positions cannot be paired."""
