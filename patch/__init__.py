"""Activation patching: which sites carry the difference between a clean and a corrupted prompt.

    from engine import Engine
    from patch import PatchSpec, patch_sites
    spec = PatchSpec("Higrus plays", "Thoutal plays", " football", " cycling")
    result = patch_sites(Engine.load("assets/demo"), spec)
    result.resid    # (n_layers, pos) share of the gap restored by patching resid_pre there
"""

from patch.compute import DIRECTIONS, METRICS, PatchResult, PatchSpec, patch_sites
from patch.errors import PatchError

__all__ = ["DIRECTIONS", "METRICS", "PatchError", "PatchResult", "PatchSpec", "patch_sites"]
