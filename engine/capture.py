"""Batched clean captures: head writes, MLP units and residuals of many sequences in one forward.

``Engine.trace`` reads one prompt at a time and keeps everything; lens training and cluster
search read hundreds of sequences and need a few sites, so this runs a right-padded batch
through the adapter once. With right padding and a causal mask, real positions never see
the padding, so no other mask is needed. Only real positions are kept, flattened row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import torch
from torch import Tensor

from engine.adapter import Adapter
from engine.errors import EmptyPromptError, InterventionError, PromptTooLongError
from engine.frame import Frame
from engine.hooks import Capture, Cursor, installed
from engine.tokens import check_ids

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
