"""The Lens interface, and the logit lens (final norm then unembedding) as its simplest case."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Literal

import torch
from torch import Tensor

from engine.errors import OutOfRangeError
from lens.errors import LensSpecError
from lens.unembed import Unembed

ResidSite = Literal["resid_pre", "resid_mid", "resid_post"]
RESID_SITES: tuple[str, ...] = ("resid_pre", "resid_mid", "resid_post")


class Lens(ABC):
    """Maps every head's write to the residual stream to vocabulary logits, one layer at a time."""

    name: str = "lens"

    @abstractmethod
    def head_logits(self, layer: int, x: Tensor, heads: slice = slice(None)) -> Tensor:
        """``x``: ``(..., h, d_model)`` writes of ``layer``'s heads ``heads`` (default all) -> ``(..., h, d_vocab)``."""

    @property
    @abstractmethod
    def layers(self) -> tuple[int, ...]:
        """The layers this lens can decode."""

    def check_layer(self, layer: int) -> int:
        """``layer`` if this lens decodes it, else :class:`OutOfRangeError` naming the ones it does."""
        if layer not in self.layers:
            shown = ", ".join(map(str, self.layers)) or "none"
            raise OutOfRangeError(f"{self.name} has no lens for layer {layer}; it covers layers {shown}")
        return layer


class LogitLens(Lens):
    """The model's final norm then its unembedding, applied to any vector (no training)."""

    name = "logit lens"

    def __init__(self, unembed: Unembed, n_layers: int) -> None:
        self.unembed = unembed
        self.n_layers = n_layers

    @property
    def layers(self) -> tuple[int, ...]:
        return tuple(range(self.n_layers))

    @torch.no_grad()
    def head_logits(self, layer: int, x: Tensor, heads: slice = slice(None)) -> Tensor:
        """``x``: ``(..., h, d_model)`` -> ``(..., h, d_vocab)``: each head's write decoded alone."""
        self.check_layer(layer)
        return self.unembed(x)

    @torch.no_grad()
    def resid_logits(self, trace, layer: int, site: ResidSite = "resid_post") -> Tensor:
        """``(pos, d_vocab)`` logit lens of ``trace``'s residual stream at ``site`` of ``layer``.

        The last resid_post is the model's own logits: transformers already applied the
        final norm there, and normalising twice would give a wrong final row.
        """
        self.check_layer(layer)
        if site not in RESID_SITES:
            raise LensSpecError(f"unknown residual site {site!r}; choose one of {', '.join(RESID_SITES)}")
        if site == "resid_post" and layer == self.n_layers - 1:
            return trace.logits
        return self.unembed(getattr(trace, site)(layer))
