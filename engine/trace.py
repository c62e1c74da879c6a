"""Clean activations: one prompt's trace (the prefix cache), and batched captures of many sequences.

A clean run's activations, read through the field's names (resid_pre, attn_out, ...).

A :class:`Trace` is also the prefix cache: runs with interventions restart
from its residuals and reuse its keys and values. It keeps no attention
patterns (they grow with the square of the prompt): ``Engine.pattern`` computes
the one layer a page asks for.

Batched clean captures: head writes, MLP units and residuals of many sequences in one forward.

``Engine.trace`` reads one prompt at a time and keeps everything; lens training and cluster
search read hundreds of sequences and need a few sites, so this runs a right-padded batch
through the adapter once. With right padding and a causal mask, real positions never see
the padding, so no other mask is needed. Only real positions are kept, flattened row by row.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, Sequence

import torch
from torch import Tensor

from engine.adapter import Adapter, Frame
from engine.errors import EmptyPromptError, InterventionError, PromptTooLongError
from engine.hooks import Capture, Cursor, installed
from engine.interventions import check_layer
from engine.tokens import check_ids


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


CaptureSite = Literal["head_writes", "resid_post", "mlp_in", "mlp_post", "mlp_out"]
CAPTURE_SITES: tuple[str, ...] = ("head_writes", "resid_post", "mlp_in", "mlp_post", "mlp_out")


@dataclass(frozen=True, eq=False)
class Batch:
    """Right-padded token ids ``(batch, pos)`` and the mask of real positions ``(batch, pos)``."""

    ids: Tensor
    mask: Tensor

    @property
    def n_real(self) -> int:
        return int(self.mask.sum())

    @property
    def lengths(self) -> Tensor:
        """``(batch,)`` number of real tokens of each row."""
        return self.mask.sum(dim=1)


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int = 0) -> Batch:
    """Right-pad token sequences into one :class:`Batch`; EmptyPromptError if one has no tokens."""
    if not seqs or min(len(s) for s in seqs) == 0:
        raise EmptyPromptError("every sequence of a batch needs at least one token")
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.bool)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = torch.as_tensor(list(seq), dtype=torch.long)
        mask[row, : len(seq)] = True
    return Batch(ids, mask)


@dataclass(frozen=True, eq=False)
class Captured:
    """Activations at the ``n`` real positions of a batch (flattened row by row), per site and layer.

    acts:      site -> layer -> ``(n, n_heads, d_model)`` for head_writes (after W_O, before its
               bias), ``(n, width)`` for the others.
    log_probs: ``(n, d_vocab)`` the model's next-token log-probabilities.
    """

    acts: dict[str, dict[int, Tensor]]
    log_probs: Tensor

    def at(self, site: CaptureSite, layer: int) -> Tensor:
        """The captured activations of ``site`` in ``layer``."""
        return self.acts[site][layer]


def as_batch(batch: Batch | Sequence[Sequence[int]], n_ctx: int, n_vocab: int) -> Batch:
    """``batch`` itself, or its id lists checked (see ``engine.tokens.check_ids``) and right-padded;
    PromptTooLongError for a batch wider than the model's context."""
    if not isinstance(batch, Batch):
        for seq in batch:
            check_ids(tuple(int(i) for i in seq), n_ctx, n_vocab)
        return pad_batch(batch)
    if batch.ids.shape[1] > n_ctx:
        raise PromptTooLongError(f"the batch is {batch.ids.shape[1]} tokens wide but this model reads at "
                                 f"most {n_ctx}; shorten its sequences")
    return batch


def check_sites(sites: Sequence[str]) -> tuple[str, ...]:
    """``sites`` as a tuple; InterventionError naming the choices for an unknown one."""
    bad = [s for s in sites if s not in CAPTURE_SITES]
    if bad or not sites:
        raise InterventionError(f"unknown capture site(s) {bad or '(none)'}; choose from {', '.join(CAPTURE_SITES)}")
    return tuple(sites)


def capture_batch(adapter: Adapter, batch: Batch, layers: Sequence[int], sites: Sequence[str]) -> Captured:
    """One clean forward of ``batch`` keeping ``sites`` at ``layers``; the caller holds the engine lock.

    Hooks are removed before this returns, also on error. The forward runs on the model's device;
    what comes back is on the CPU in float32 (lenses train and decode there).
    """
    frame = Frame(0, batch.ids.shape[1], adapter.device, adapter.dtype)
    mask = batch.mask.to(adapter.device)
    capture = Capture()
    resid: dict[int, Tensor] = {}
    hooked = range(min(layers), max(layers) + 1)
    with installed(adapter, (), Cursor(frame), capture, hooked):
        h = adapter.embed(batch.ids)
        for layer in range(adapter.n_layers):
            h = adapter.block(layer, h, frame)
            if layer in layers:
                resid[layer] = _host(h[mask])
        logits = adapter.unembed(h[mask])
    acts: dict[str, dict[int, Tensor]] = {}
    for site in sites:
        if site == "resid_post":
            acts[site] = resid
        elif site == "head_writes":
            acts[site] = {l: _host(torch.einsum("nhd,hdm->nhm", capture.seen["z"][l][mask].unflatten(
                -1, (adapter.n_heads, -1)), adapter.W_O(l))) for l in layers}
        else:
            acts[site] = {l: _host(capture.seen[site][l][mask]) for l in layers}
    return Captured(acts, torch.log_softmax(_host(logits), dim=-1))


def _host(x: Tensor) -> Tensor:
    return x.to("cpu", torch.float32)
