"""Linear centred kernel alignment (CKA) between two sets of representations of the same items."""

from __future__ import annotations

import numpy as np

from compare.errors import CompareError


def _centred_gram(x: np.ndarray) -> np.ndarray:
    """``(n, d)`` -> ``(n, n)`` Gram matrix of the column-centred rows, in float64."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0, keepdims=True)
    return x @ x.T


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of ``x`` ``(n, d1)`` and ``y`` ``(n, d2)``: 1 for the same geometry, near 0 for unrelated.

    Rows are the same n items (token positions) seen by two representations; the
    widths may differ. Invariant to rotations and isotropic scaling of either side.
    The Gram form (n x n) is used because n (positions) is usually below d_model.
    """
    if x.ndim != 2 or y.ndim != 2:
        raise CompareError(f"CKA needs two (n, d) arrays; got shapes {x.shape} and {y.shape}")
    if x.shape[0] != y.shape[0]:
        raise CompareError(f"CKA needs the same items on both sides; got {x.shape[0]} and {y.shape[0]} rows")
    if x.shape[0] < 2:
        raise CompareError("CKA needs at least 2 token positions; use a longer prompt")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise CompareError("CKA got NaN or inf activations; lower the impairment intensity")
    k, l = _centred_gram(x), _centred_gram(y)
    norm_k, norm_l = np.linalg.norm(k), np.linalg.norm(l)
    if norm_k == 0.0 or norm_l == 0.0:
        raise CompareError("CKA is undefined when one side is the same at every position (e.g. zeroed activations)")
    return float(np.sum(k * l) / (norm_k * norm_l))
