"""Exception types of sweeps (output files, Ray); each message says how to fix the input."""

from engine.errors import LensLabError


class OutputFolderError(LensLabError, ValueError):
    """The output folder cannot be made or written (a file is in the way, no permission, ...)."""


class OutputLockedError(LensLabError, RuntimeError):
    """Another running sweep holds the output folder's lock."""


class RowFileError(LensLabError, ValueError):
    """An output CSV is not one this sweep can resume (other columns, not text)."""


class RaySweepError(LensLabError):
    """A sweep could not run on Ray (no Ray, an unreachable cluster, workers that keep dying); the message says
    what to check."""
