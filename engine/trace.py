"""A clean run's activations, read through the field's names (resid_pre, attn_out, ...).

A :class:`Trace` is also the prefix cache: runs with interventions restart
from its residuals and reuse its keys and values. It keeps no attention
patterns (they grow with the square of the prompt): ``Engine.pattern`` computes
the one layer a page asks for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import torch

from engine.checks import check_layer
from engine.errors import InterventionError

ActivationSite = Literal[
    "resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_in", "mlp_post", "mlp_out"]
ACTIVATION_SITES: tuple[str, ...] = (
    "resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_in", "mlp_post", "mlp_out")


@dataclass(frozen=True, eq=False)
class Trace:
    """Every activation of one clean forward pass over ``tokens`` (batch of one, dropped).

    resid:     ``(n_layers + 1, pos, d_model)``: resid_pre of each block, then the last resid_post
               (before the final norm).
    attn:      ``(n_layers, pos, d_model)`` attention outputs (with the output bias).
    z:         ``(n_layers, pos, n_heads, d_head)`` per-head attention results, before W_O.
    mlp_input: ``(n_layers, pos, d_model)`` what each MLP reads (after its norm).
    mlp_hidden:``(n_layers, pos, d_mlp)`` MLP hidden activations (mlp_post, the neurons).
    mlp:       ``(n_layers, pos, d_model)`` MLP outputs.
    logits:    ``(pos, d_vocab)``.
    W_O, b_O:  per layer ``(n_heads, d_head, d_model)`` and ``(d_model,)`` (views of the weights).
    keys, values: per layer ``(1, n_kv_heads, pos, d_head)`` as the attention caches them.
    """

    tokens: list[int]
    logits: torch.Tensor
    resid: torch.Tensor
    attn: torch.Tensor
    z: torch.Tensor
    mlp_input: torch.Tensor
    mlp_hidden: torch.Tensor
    mlp: torch.Tensor
    W_O: tuple[torch.Tensor, ...]
    b_O: tuple[torch.Tensor, ...]
    keys: tuple[torch.Tensor, ...]
    values: tuple[torch.Tensor, ...]

    @property
    def n_layers(self) -> int:
        return self.attn.shape[0]

    @property
    def n_pos(self) -> int:
        return len(self.tokens)

    def _check(self, layer: int) -> int:
        return check_layer(layer, self.n_layers)

    def resid_pre(self, layer: int) -> torch.Tensor:
        """``(pos, d_model)`` residual stream entering block ``layer``."""
        return self.resid[self._check(layer)]

    def resid_mid(self, layer: int) -> torch.Tensor:
        """``(pos, d_model)`` resid_pre + attn_out of block ``layer`` (what a sequential MLP adds to)."""
        return self.resid[self._check(layer)] + self.attn[layer]

    def resid_post(self, layer: int) -> torch.Tensor:
        """``(pos, d_model)`` residual stream leaving block ``layer`` (the last one before the final norm)."""
        return self.resid[self._check(layer) + 1]

    def attn_out(self, layer: int) -> torch.Tensor:
        """``(pos, d_model)`` attention output of block ``layer``, output bias included."""
        return self.attn[self._check(layer)]

    def head_writes(self, layer: int) -> torch.Tensor:
        """``(pos, n_heads, d_model)``: head h writes ``z_h @ W_O[h]``, before the output bias.

        The bias belongs to no head: ``head_writes(l).sum(1) + attn_bias(l) == attn_out(l)``.
        """
        return torch.einsum("phd,hdm->phm", self.z[self._check(layer)], self.W_O[layer])

    def attn_bias(self, layer: int) -> torch.Tensor:
        """``(d_model,)`` attention output bias of block ``layer`` (zeros if none)."""
        return self.b_O[self._check(layer)]

    def mlp_in(self, layer: int) -> torch.Tensor:
        """``(pos, d_model)`` what the MLP of block ``layer`` reads, after its norm."""
        return self.mlp_input[self._check(layer)]

    def neurons(self, layer: int) -> torch.Tensor:
        """``(pos, d_mlp)`` MLP hidden activations (mlp_post) of block ``layer``."""
        return self.mlp_hidden[self._check(layer)]

    def mlp_out(self, layer: int) -> torch.Tensor:
        """``(pos, d_model)`` MLP output of block ``layer``, before it joins the residual stream."""
        return self.mlp[self._check(layer)]

    def stack(self, site: ActivationSite) -> torch.Tensor:
        """``(n_layers, pos, width)`` activations at ``site`` for every layer."""
        if site == "resid_pre":
            return self.resid[:-1]
        if site == "resid_post":
            return self.resid[1:]
        if site == "resid_mid":
            return self.resid[:-1] + self.attn
        by_site = {"attn_out": self.attn, "mlp_in": self.mlp_input, "mlp_post": self.mlp_hidden,
                   "mlp_out": self.mlp}
        if site not in by_site:
            raise InterventionError(f"unknown site {site!r}; choose one of {', '.join(ACTIVATION_SITES)}")
        return by_site[site]

    def to(self, device: torch.device | str, dtype: torch.dtype) -> "Trace":
        """This trace with every tensor on ``device`` in ``dtype``; itself when nothing would move."""
        if self.logits.device == torch.device(device) and self.logits.dtype == dtype:
            return self

        def move(t: torch.Tensor) -> torch.Tensor:
            return t.to(device, dtype)

        tensors = {name: move(getattr(self, name)) for name in (
            "logits", "resid", "attn", "z", "mlp_input", "mlp_hidden", "mlp")}
        tuples = {name: tuple(map(move, getattr(self, name))) for name in ("W_O", "b_O", "keys", "values")}
        return replace(self, **tensors, **tuples)

    @property
    def nbytes(self) -> int:
        """Approximate memory held by this trace's own tensors (weights views excluded)."""
        own = [self.logits, self.resid, self.attn, self.z, self.mlp_input, self.mlp_hidden,
               self.mlp, *self.keys, *self.values]
        return sum(t.numel() * t.element_size() for t in own)
