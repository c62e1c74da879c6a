"""Show mistakes a user can make as ``st.error`` with the core's message, never a traceback."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import streamlit as st
from ui.text import md_escape

from engine.errors import LensLabError

T = TypeVar("T")

# Every core package's user-facing error derives from the one root; plus a file the user
# named that does not exist. Anything else is a bug and surfaces as one.
USER_ERRORS: tuple[type[Exception], ...] = (LensLabError, FileNotFoundError)


def show_error(err: Exception) -> None:
    """The core's message in a red box; it already says how to fix the input."""
    st.error(md_escape(err), icon=":material/error:")


def attempt(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """``fn(*args, **kwargs)``, or None after showing its user error with st.error."""
    try:
        return fn(*args, **kwargs)
    except USER_ERRORS as err:
        show_error(err)
        return None
