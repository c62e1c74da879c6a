"""Exception types for sweep output files; each message says how to fix the input."""

from engine.errors import EngineError


class OutputFolderError(EngineError, ValueError):
    """The output folder cannot be made or written (a file is in the way, no permission, ...)."""


class OutputLockedError(EngineError, RuntimeError):
    """Another running sweep holds the output folder's lock."""


class RowFileError(EngineError, ValueError):
    """An output CSV is not one this sweep can resume (other columns, not text)."""
