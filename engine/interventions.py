"""Interventions are values: frozen, hashable dataclasses a run takes as a list.

They name *what* to change; the engine decides how (which hook, which cached
prefix). Being hashable, they double as cache keys for the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

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


Intervention = Union[Impair, Inject, Ablate]
