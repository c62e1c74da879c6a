"""Exception types of fact editing; every message says how to fix the input."""

from __future__ import annotations

from engine.errors import LensLabError


class EditError(LensLabError, ValueError):
    """Base class of every error the edit package raises on purpose."""


class EditSpecError(EditError):
    """An edit request or its method settings are malformed (unknown method, rank < 1, empty object, ...)."""


class EditResumeError(EditError):
    """An output folder holds a sweep made with other settings; choose another folder or delete it."""
