"""The lenses themselves: what a lens is, the logit lens, and the per-layer Attention Lens modules.

A lens maps every head's write to the residual stream, ``(..., n_heads, d_model)``, to
vocabulary logits ``(..., n_heads, d_vocab)``, one layer at a time, all heads in one batched
operation. The logit lens (final norm then unembedding) is its simplest case; trained layer
lenses come in two kinds:

- compact: per head an affine translator ``x @ A_h + b_h`` (``A_h`` is ``d_model x d_model``,
  or ``I + down_h @ up_h`` of rank ``r``), initialised at the identity, followed by the model's
  own final norm and unembedding. Storage is O(d_model^2) (or O(d_model * r)) per head.
- full: the original Attention Lens, per head ``nn.Linear(d_model, d_vocab)`` initialised from
  W_U and b_U and applied to the raw head write (no final norm). Storage O(d_model * d_vocab).

Both read the model's final norm and unembedding through :class:`Unembed`, a frozen copy that
lenses can backpropagate through. Lens training needs gradients with respect to the lens input,
never with respect to the model: calling the shared model's own modules in a backward pass would
leave ``.grad`` tensors on weights every session shares. So the final norm is copied with
``requires_grad`` off, and W_U / b_U are detached buffers.
"""

from __future__ import annotations

import copy
import math
from abc import ABC, abstractmethod
from typing import Literal

import torch
from torch import Tensor, nn

from engine.errors import OutOfRangeError
from lens.errors import LensFormatError, LensSpecError

ResidSite = Literal["resid_pre", "resid_mid", "resid_post"]
RESID_SITES: tuple[str, ...] = ("resid_pre", "resid_mid", "resid_post")
LensKind = Literal["compact", "full"]
KINDS: tuple[str, ...] = ("compact", "full")

_FEW_ROWS = 64


class Unembed(nn.Module):
    """``(..., d_model)`` -> final norm (optional) -> ``@ W_U (+ b_U)`` -> ``(..., d_vocab)``."""

    def __init__(self, norm: nn.Module, W_U: Tensor, b_U: Tensor | None = None) -> None:
        super().__init__()
        self.norm = copy.deepcopy(norm).requires_grad_(False).eval().to("cpu", torch.float32)
        # Views of a CPU float32 model's weights, not copies: W_U of a large model is hundreds of MB.
        # Lenses run on the CPU in float32 whatever the model's device and dtype.
        self.register_buffer("W_U", W_U.detach().to("cpu", torch.float32), persistent=False)
        self.register_buffer("b_U", None if b_U is None else b_U.detach().to("cpu", torch.float32),
                             persistent=False)

    @classmethod
    def from_adapter(cls, adapter) -> Unembed:
        """Copy the final norm and unembedding named by an engine ``Adapter``."""
        head = adapter.lm_head
        return cls(adapter.final_norm, head.weight.detach().T, getattr(head, "bias", None))

    @property
    def d_model(self) -> int:
        return self.W_U.shape[0]

    @property
    def d_vocab(self) -> int:
        return self.W_U.shape[1]

    def forward(self, x: Tensor, norm: bool = True) -> Tensor:
        """``x``: ``(..., d_model)`` -> ``(..., d_vocab)`` logits."""
        h = (self.norm(x) if norm else x).reshape(-1, self.d_model)
        if h.shape[0] <= _FEW_ROWS:
            # With few rows, the CPU matmul is about twice as fast with the (d_vocab, d_model)
            # weight as the left operand (measured on a GPT-2-small unembedding, 12 rows).
            out = (self.W_U.T @ h.T).T.contiguous()
        else:
            out = h @ self.W_U
        out = out.reshape(*x.shape[:-1], self.d_vocab)
        return out if self.b_U is None else out + self.b_U


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
