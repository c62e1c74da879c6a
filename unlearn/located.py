"""What a localizer returns, whatever its method: a mask over the MLP output weights ``W_out``, per layer.

A set of units is a mask of whole rows (a unit's every output weight); a learned mask picks single
weights. Either becomes per-run :class:`WeightDelta` s that remove the masked weights,
``W_out -> W_out - mask * W_out``, so the shared model is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from engine import Engine, WeightDelta

UNIT_METHODS = ("attribution", "activation", "gradient", "random")
MASK_METHODS = ("mask", "random-mask")
METHODS = UNIT_METHODS + MASK_METHODS
METHOD_TEXT = {
    "attribution": "activation x gradient of the secret's token log-likelihood, minus the same on clean facts",
    "activation": "mean |activation| on the secret over mean |activation| on clean text",
    "gradient": "|d secret loss / d W_out| of a unit's row over the same on clean text",
    "random": "random units (control)",
    "mask": "a learned top-k mask over single W_out weights (straight-through), trained to raise the secret's "
            "loss and keep the clean loss",
    "random-mask": "random single weights (control)",
}


@dataclass(frozen=True, eq=False)
class Located:
    """``masks``: ``{layer: (d_mlp, d_model) bool}`` of the ``W_out`` weights to remove; ``scores`` the ranked units'
    scores (units methods) in ``units`` order."""

    method: str
    masks: dict[int, np.ndarray] = field(repr=False)
    units: tuple[tuple[int, int], ...] = ()
    scores: tuple[float, ...] = ()

    @property
    def n_weights(self) -> int:
        return int(sum(m.sum() for m in self.masks.values()))

    @property
    def whole_units(self) -> bool:
        return self.method in UNIT_METHODS


def from_units(method: str, units: list[tuple[int, int]], scores: list[float], d_mlp: int, d_model: int) -> Located:
    """A :class:`Located` of whole rows for ``units`` (layer, unit)."""
    masks: dict[int, np.ndarray] = {}
    for layer, unit in units:
        masks.setdefault(layer, np.zeros((d_mlp, d_model), dtype=bool))[unit] = True
    return Located(method, dict(sorted(masks.items())), tuple(units), tuple(float(s) for s in scores))


def removal_deltas(engine: Engine, located: Located) -> tuple[WeightDelta, ...]:
    """One WeightDelta per layer that subtracts the masked weights of ``W_out`` (exactly: rows for whole units)."""
    out = []
    for layer, mask in located.masks.items():
        w = engine.W_out(layer)
        rows = np.flatnonzero(mask.any(axis=1))
        if not rows.size:
            continue
        left = torch.zeros(w.shape[0], rows.size)
        left[torch.as_tensor(rows), torch.arange(rows.size)] = 1.0
        right = -(w[torch.as_tensor(rows)] * torch.as_tensor(mask[rows], dtype=w.dtype))
        out.append(WeightDelta.from_factors(layer, left, right))
    return tuple(out)


def dense_deltas(deltas: dict[int, torch.Tensor]) -> tuple[WeightDelta, ...]:
    """WeightDeltas of dense ``{layer: (d_mlp, d_model)}`` changes, exactly (rank d_model: change @ identity)."""
    return tuple(WeightDelta.from_factors(layer, d.detach(), torch.eye(d.shape[1]))
                 for layer, d in sorted(deltas.items()))
