"""Exception types the engine raises for mistakes a user can make.

Every message says what was wrong and how to fix it, so a page can show it
as is (``st.error(str(err))``) and a command line can print it.
"""


class LensLabError(Exception):
    """Root of every error LensLab raises on purpose: a mistake in the user's input.

    Callers (the app, the command lines) catch this root to show the message and
    let anything else (a real bug) surface with its traceback.
    """


class EngineError(LensLabError):
    """Base class of every error the engine raises on purpose."""


class ModelLoadError(EngineError):
    """The model or tokenizer could not be loaded (unknown name, missing files, unsupported family)."""


class EmptyPromptError(EngineError, ValueError):
    """The prompt has no tokens."""


class PromptTooLongError(EngineError, ValueError):
    """The prompt has more tokens than the model's context window."""


class OutOfRangeError(EngineError, IndexError):
    """A layer, head, neuron or position does not exist in this model or prompt."""


class NonFiniteError(EngineError, FloatingPointError):
    """A run produced NaN or inf (for example from a huge noise intensity)."""


class InterventionError(EngineError, ValueError):
    """An intervention is malformed (unknown mode or site, wrong vector length, missing mean, ...)."""


class GenerationError(EngineError, ValueError):
    """A generation setting is out of range (token count, temperature, top-k, an intervention it cannot follow)."""


class ShapeError(EngineError, ValueError):
    """A tensor passed to the engine has the wrong shape for this model."""


class MultiTokenError(EngineError, ValueError):
    """An answer or target text is several tokens where one is needed."""


# Messages are read, not scrolled: they list a handful of items and quote inputs briefly.
MAX_LISTED = 5


def listing(items, at_most: int = MAX_LISTED) -> str:
    """``"0, 1, 2, 3, 4 and 995 more"``: the first few of ``items``, then how many were left out."""
    items = list(items)
    shown = ", ".join(str(x) for x in items[:at_most])
    return shown + (f" and {len(items) - at_most} more" if len(items) > at_most else "")


def shorten(text: object, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters, e.g. the repr of an intervention holding thousands of units."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
