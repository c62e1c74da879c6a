"""Exception types for mistakes a user can make with clusters.

Each message says what was wrong and how to fix it, so a page can show it
as is and a command line can print it.
"""

from engine.errors import LensLabError


class ClusterError(LensLabError, ValueError):
    """A cluster file is missing or corrupt, or a request about a cluster cannot be met."""


class ClusterMismatchError(ClusterError):
    """A cluster was made for another model, or names neurons this model does not have."""
