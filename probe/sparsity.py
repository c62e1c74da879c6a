"""Sparsity of a concept at one site: held-out accuracy against the number of units an L1 probe keeps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from probe.concepts import ConceptSet
from probe.fit import _fit, _standardize
from probe.stats import wilson

L1_GRID: tuple[float, ...] = tuple(float(c) for c in np.logspace(-2.5, 1.0, 12))


@dataclass(frozen=True)
class SparsityPoint:
    """One L1 strength ``C``: the units kept (any class's weight nonzero) and the held-out accuracy."""

    C: float
    units: int
    acc: float
    lo: float
    hi: float


def l1_path(data: ConceptSet, x: np.ndarray, grid: tuple[float, ...] = L1_GRID) -> list[SparsityPoint]:
    """``x``: ``(n_subjects, d)`` one site's activations; an L1 probe per C of ``grid``, fit on train, judged on
    held-out: the path from few units to many, sorted by units kept."""
    classes = data.classes
    y = np.array([classes.index(label) for label in data.labels])
    tr, ho = np.array(data.index("train")), np.array(data.index("heldout"))
    mean, scale = _standardize(x[tr])
    z = (x - mean) / scale
    points = []
    for C in grid:
        model = _fit(z[tr], y[tr], C, l1=True)
        units = int((np.abs(model.coef_) > 1e-8).any(axis=0).sum())
        hits = int((model.predict(z[ho]) == y[ho]).sum())
        points.append(SparsityPoint(C, units, hits / len(ho), *wilson(hits, len(ho))))
    return sorted(points, key=lambda p: (p.units, p.C))


def units_for(points: list[SparsityPoint], share: float, floor: float) -> int | None:
    """The fewest units whose accuracy recovers ``share`` of the path's best gain over ``floor`` (the majority
    baseline): a one-number sparsity; None when no point beats the floor."""
    best = max(p.acc for p in points)
    if best <= floor:
        return None
    need = floor + share * (best - floor)
    return min(p.units for p in points if p.acc >= need - 1e-12)
