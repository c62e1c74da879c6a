"""The per-layer Attention Lens modules: compact translators and the original's full form.

A layer lens maps every head's write to the residual stream, ``(..., n_heads, d_model)``,
to vocabulary logits ``(..., n_heads, d_vocab)``, all heads in one batched operation.

- compact: per head an affine translator ``x @ A_h + b_h`` (``A_h`` is ``d_model x d_model``,
  or ``I + down_h @ up_h`` of rank ``r``), initialised at the identity, followed by the model's
  own final norm and unembedding. Storage is O(d_model^2) (or O(d_model * r)) per head.
- full: the original Attention Lens, per head ``nn.Linear(d_model, d_vocab)`` initialised from
  W_U and b_U and applied to the raw head write (no final norm). Storage O(d_model * d_vocab).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from lens.errors import LensFormatError, LensSpecError
from lens.unembed import Unembed

LensKind = Literal["compact", "full"]
KINDS: tuple[str, ...] = ("compact", "full")


class CompactLayerLens(nn.Module):
    """Per-head affine translators into the model's final residual basis, then its own unembedding."""

    def __init__(self, n_heads: int, d_model: int, rank: int | None = None) -> None:
        super().__init__()
        self.rank = rank
        if rank is None:
            self.weight = nn.Parameter(torch.eye(d_model).repeat(n_heads, 1, 1))
        else:
            # down starts at zero so the translator starts at the identity; up is random so
            # down still gets a gradient on the first step.
            self.down = nn.Parameter(torch.zeros(n_heads, d_model, rank))
            self.up = nn.Parameter(torch.randn(n_heads, rank, d_model) / math.sqrt(d_model))
        self.bias = nn.Parameter(torch.zeros(n_heads, d_model))

    def translate(self, x: Tensor, heads: slice = slice(None)) -> Tensor:
        """``(..., h, d_model)`` writes of heads ``heads`` -> ``(..., h, d_model)`` translated writes."""
        if self.rank is None:
            y = torch.einsum("...hd,hde->...he", x, self.weight[heads])
        else:
            low = torch.einsum("...hd,hdr->...hr", x, self.down[heads])
            y = x + torch.einsum("...hr,hre->...he", low, self.up[heads])
        return y + self.bias[heads]

    def forward(self, x: Tensor, unembed: Unembed, heads: slice = slice(None)) -> Tensor:
        """``(..., h, d_model)`` writes of heads ``heads`` (default all) -> ``(..., h, d_vocab)`` logits."""
        return unembed(self.translate(x, heads))


class FullLayerLens(nn.Module):
    """Per-head ``nn.Linear(d_model, d_vocab)`` on the raw head write, as in the original Attention Lens.

    ``weight`` is ``(n_heads, d_vocab, d_model)`` (nn.Linear's layout), ``bias`` ``(n_heads, d_vocab)``.
    """

    def __init__(self, n_heads: int, d_model: int, d_vocab: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_heads, d_vocab, d_model))
        self.bias = nn.Parameter(torch.zeros(n_heads, d_vocab))

    @classmethod
    def from_unembed(cls, n_heads: int, unembed: Unembed) -> FullLayerLens:
        """Every head's linear map initialised to W_U and b_U, as the original does."""
        lens = cls(n_heads, unembed.d_model, unembed.d_vocab)
        with torch.no_grad():
            lens.weight.copy_(unembed.W_U.T.expand(n_heads, -1, -1))
            if unembed.b_U is not None:
                lens.bias.copy_(unembed.b_U.expand(n_heads, -1))
        return lens

    def forward(self, x: Tensor, unembed: Unembed | None = None, heads: slice = slice(None)) -> Tensor:
        """``(..., h, d_model)`` writes of heads ``heads`` (default all) -> ``(..., h, d_vocab)`` logits.

        ``unembed`` is accepted for a common signature and unused: the original lens has no final norm.
        """
        return torch.einsum("...hd,hvd->...hv", x, self.weight[heads]) + self.bias[heads]


LayerLens = CompactLayerLens | FullLayerLens


def new_layer_lens(kind: str, n_heads: int, unembed: Unembed, rank: int | None = None) -> LayerLens:
    """A freshly initialised layer lens of ``kind`` (identity translators, or W_U copies)."""
    if kind == "compact":
        return CompactLayerLens(n_heads, unembed.d_model, rank)
    if kind == "full":
        return FullLayerLens.from_unembed(n_heads, unembed)
    raise LensSpecError(f"unknown lens kind {kind!r}; choose one of {', '.join(KINDS)}")


def layer_lens_from_state(
    kind: str, state: dict[str, Tensor], n_heads: int, d_model: int, d_vocab: int, rank: int | None
) -> LayerLens:
    """Rebuild a layer lens from its saved tensors, checking every shape against the model's."""
    if kind == "compact":
        lens: LayerLens = CompactLayerLens(n_heads, d_model, rank)
    elif kind == "full":
        lens = FullLayerLens(n_heads, d_model, d_vocab)
    else:
        raise LensFormatError(f"unknown lens kind {kind!r} in the lens header; expected one of {', '.join(KINDS)}")
    expected = {name: tuple(p.shape) for name, p in lens.named_parameters()}
    found = {name: tuple(t.shape) for name, t in state.items()}
    if found != expected:
        raise LensFormatError(
            f"{kind} lens tensors {found} do not match this model's shapes {expected}; "
            "the file is corrupt or was written for another model: retrain the lenses"
        )
    lens.load_state_dict(state)
    lens.requires_grad_(False)
    return lens


def params_per_head(kind: str, d_model: int, d_vocab: int, rank: int | None = None) -> int:
    """Parameters of one head's lens, from shapes alone (for size comparisons)."""
    if kind == "full":
        return d_model * d_vocab + d_vocab
    if kind == "compact":
        return (d_model * d_model if rank is None else 2 * d_model * rank) + d_model
    raise LensSpecError(f"unknown lens kind {kind!r}; choose one of {', '.join(KINDS)}")
