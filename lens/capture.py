"""Batched clean forward passes that keep every head's write: the input of lens training and evaluation.

``Engine.trace`` reads one prompt at a time; training reads thousands of sequences, so this
runs a right-padded batch through the engine's adapter (which names the modules, so nothing
here depends on one architecture) and hooks the attention output projection. With right
padding and a causal mask, real positions never see the padding, so no other mask is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from engine.frame import Frame
from engine.hooks import Capture, Cursor, installed


def adapter_of(engine):
    """The engine's ``Adapter`` (module names and block calls of its family)."""
    adapter = getattr(engine, "adapter", None)
    return adapter if adapter is not None else engine._adapter


@dataclass(frozen=True, eq=False)
class Batch:
    """Right-padded token ids ``(batch, pos)`` and the mask of real positions ``(batch, pos)``."""

    ids: Tensor
    mask: Tensor

    @property
    def n_real(self) -> int:
        return int(self.mask.sum())


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int = 0) -> Batch:
    """Right-pad token sequences into one :class:`Batch`."""
    if not seqs or min(len(s) for s in seqs) == 0:
        raise ValueError("every sequence of a batch needs at least one token")
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.bool)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = torch.as_tensor(list(seq), dtype=torch.long)
        mask[row, : len(seq)] = True
    return Batch(ids, mask)


@dataclass(frozen=True, eq=False)
class BatchActivations:
    """What lens training needs from one batch, at real positions only (``n`` of them, flattened).

    head_writes: per captured layer ``(n, n_heads, d_model)``.
    resid_post:  per captured layer ``(n, d_model)`` (for the residual-stream logit lens).
    log_probs:   ``(n, d_vocab)`` the model's final next-token log-probabilities.
    """

    head_writes: dict[int, Tensor]
    resid_post: dict[int, Tensor]
    log_probs: Tensor


@torch.no_grad()
def capture_batch(engine, batch: Batch, layers: Sequence[int]) -> BatchActivations:
    """One clean forward of ``batch``; hooks are removed before this returns, also on error.

    Holds ``engine.lock`` for the forward, since hooks on the shared model would otherwise
    be seen by concurrent runs.
    """
    adapter = adapter_of(engine)
    frame = Frame(0, batch.ids.shape[1])
    capture = Capture()
    resid: dict[int, Tensor] = {}
    with engine.lock, installed(adapter, (), Cursor(frame), capture, range(min(layers), max(layers) + 1)):
        h = adapter.embed(batch.ids)
        for layer in range(adapter.n_layers):
            h = adapter.block(layer, h, frame)
            if layer in layers:
                resid[layer] = h[batch.mask]
        logits = adapter.unembed(h[batch.mask])
    writes = {}
    for layer in layers:
        z = capture.seen["z"][layer][batch.mask].unflatten(-1, (adapter.n_heads, -1))
        writes[layer] = torch.einsum("nhd,hdm->nhm", z, adapter.W_O(layer))
    return BatchActivations(writes, resid, torch.log_softmax(logits, dim=-1))
