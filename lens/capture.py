"""What lens training and evaluation read from a batch: every head's write, residuals, final log-probs.

The engine captures them (``Engine.capture``: one right-padded forward, hooks and lock kept
inside the engine); this names the three things a lens needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from torch import Tensor

from engine.capture import Batch, pad_batch
from engine.engine import Engine

__all__ = ["Batch", "BatchActivations", "adapter_of", "capture_batch", "pad_batch"]


def adapter_of(engine: Engine):
    """The engine's ``Adapter`` (module names and weights of its family)."""
    return engine.adapter


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


def capture_batch(engine: Engine, batch: Batch, layers: Sequence[int]) -> BatchActivations:
    """One clean forward of ``batch`` through the engine, keeping what lenses of ``layers`` read."""
    got = engine.capture(batch, layers, ("head_writes", "resid_post"))
    return BatchActivations(got.acts["head_writes"], got.acts["resid_post"], got.log_probs)
