"""Exception types of the lens package; every message says what is wrong and how to fix it."""

from engine.errors import LensLabError


class LensError(LensLabError):
    """Base class of every error the lens package raises on purpose."""


class LensMismatch(LensError, ValueError):
    """The lenses were trained for another model (fingerprint or shape differs)."""


class LensFormatError(LensError, ValueError):
    """A lens folder or file is missing, corrupt, or of an unknown format."""


class LensSpecError(LensError, ValueError):
    """A lens request is ill-specified (unknown kind or residual site, no steps, a bad holdout share, no text)."""


class LensDataError(LensError, FileNotFoundError):
    """A training or evaluation text file does not exist."""


class LensImportError(LensError, ValueError):
    """A checkpoint of the original Attention Lens could not be imported safely."""


class LensExistsError(LensError, ValueError):
    """The output folder already holds lenses (and --overwrite was not given) or holds other files."""
