"""Interventions are values: frozen, hashable dataclasses a run takes as a list.

They name *what* to change; the engine decides how (which hook, which cached
prefix). Being hashable, they double as cache keys for the app.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union

import numpy as np

ImpairMode = Literal["noise", "negative_noise", "scale", "zero", "mean"]
# mlp_post: the MLP hidden activations (the neurons, d_mlp wide);
# mlp_out: the MLP output before it joins the residual stream (d_model wide);
# mlp_in: the hidden state the MLP reads, after its layer norm (d_model wide).
ImpairSite = Literal["mlp_post", "mlp_out", "mlp_in"]
# "all", "last", or explicit token positions (negative counts from the end).
Positions = Union[Literal["all", "last"], tuple[int, ...]]

IMPAIR_MODES: tuple[str, ...] = ("noise", "negative_noise", "scale", "zero", "mean")
IMPAIR_SITES: tuple[str, ...] = ("mlp_post", "mlp_out", "mlp_in")


@dataclass(frozen=True)
class Impair:
    """Impair units of one layer's MLP.

    noise:          x + intensity * eps, eps ~ N(0, 1), seeded by ``seed``.
    negative_noise: the same eps shifted so its maximum is 0, times intensity (the maximum
                    is taken per sample over all impaired positions and units together).
    scale:          x * intensity (intensity is the factor; 1.0 is the identity).
    zero:           x -> 0.
    mean:           x -> ``mean`` (one value per unit in ``neurons``).
    """

    layer: int
    neurons: tuple[int, ...]
    mode: ImpairMode = "noise"
    intensity: float = 1.0
    site: ImpairSite = "mlp_post"
    positions: Positions = "all"
    seed: int = 0
    mean: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Inject:
    """Add ``scale * vector`` (a ``(d_model,)`` tuple) to the output of layer ``layer``'s attention."""

    layer: int
    vector: tuple[float, ...]
    scale: float = 1.0
    positions: Positions = "all"


@dataclass(frozen=True)
class Ablate:
    """Remove one head's write to the residual stream: zero it, or replace it by its mean over positions.

    The mean is over the prompt's positions in the same run; the attention output bias is kept.
    """

    layer: int
    head: int
    mode: Literal["zero", "mean"] = "zero"


@dataclass(frozen=True)
class WeightDelta:
    """Add ``scale * left @ right`` to block ``layer``'s MLP output weights ``W_out`` for one run.

    ``W_out`` is read in the ``(d_mlp, d_model)`` layout, so the MLP output becomes
    ``mlp_post @ (W_out + scale * left @ right) + bias``. ``left`` is ``(d_mlp, rank)`` and ``right``
    ``(rank, d_model)``, both float32 in row-major bytes (compact, hashable and fast to compare);
    build one with :meth:`from_factors`. The shared model's weights are never touched.
    """

    layer: int
    rank: int
    left: bytes = field(repr=False)
    right: bytes = field(repr=False)
    scale: float = 1.0

    @staticmethod
    def from_factors(layer: int, left, right, scale: float = 1.0) -> "WeightDelta":
        """From ``left`` ``(d_mlp, rank)`` and ``right`` ``(rank, d_model)`` tensors or arrays."""
        a = np.ascontiguousarray(np.asarray(_plain(left), dtype=np.float32))
        b = np.ascontiguousarray(np.asarray(_plain(right), dtype=np.float32))
        rank = a.shape[1] if a.ndim == 2 else -1
        return WeightDelta(layer=layer, rank=rank, left=a.tobytes(), right=b.tobytes(), scale=float(scale))


def _plain(x):
    """A torch tensor as a detached CPU float32 array; anything else as is."""
    if hasattr(x, "detach"):
        return x.detach().to("cpu").float().numpy()
    return x


Intervention = Union[Impair, Inject, Ablate, WeightDelta]
