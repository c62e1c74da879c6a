"""TRAK scores from projected gradients, the gradient-similarity baseline, and a seeded random ranking.

With ``phi_i = P^T g_i`` (``g_i`` a training sentence's log-likelihood gradient, ``P`` a seeded Gaussian
``(n_params, dim)`` matrix scaled by ``1/sqrt(dim)``) and ``phi_t`` a target's projected margin gradient,
TRAK's score of sentence ``i`` for target ``t`` is ``phi_t^T (Phi^T Phi + lambda I)^-1 phi_i``: positive when
training on the sentence raises the margin. ``lambda`` is ``ridge`` times the mean diagonal of ``Phi^T Phi``.
"""

from __future__ import annotations

import torch

from probe.errors import ProbeError

MAX_PROJECTION_BYTES = 6 << 30


class Projection:
    """A seeded Gaussian ``(n_params, dim)`` projection, built in blocks; :meth:`apply` maps ``(n, n_params)``."""

    def __init__(self, n_params: int, dim: int, seed: int = 0, block: int = 1 << 16) -> None:
        if n_params * dim * 4 > MAX_PROJECTION_BYTES:
            raise ProbeError(f"projecting {n_params:,} parameters to {dim} dims needs "
                             f"{n_params * dim * 4 / 2**30:.1f} GiB; lower --proj-dim or attribute on a smaller model")
        gen = torch.Generator().manual_seed(seed)
        self.P = torch.empty(n_params, dim)
        for start in range(0, n_params, block):
            stop = min(n_params, start + block)
            self.P[start:stop] = torch.randn(stop - start, dim, generator=gen)
        self.P /= dim ** 0.5

    def apply(self, g: torch.Tensor) -> torch.Tensor:
        """``(n, n_params)`` -> ``(n, dim)``."""
        return g @ self.P


def trak_scores(phi_train: torch.Tensor, phi_target: torch.Tensor, ridge: float = 0.01,
                counts: torch.Tensor | None = None) -> torch.Tensor:
    """``(n_targets, n_train)`` TRAK scores from ``phi_train`` ``(n_train, dim)`` and ``phi_target`` ``(n_targets, dim)``;
    ``counts`` ``(n_train,)``: copies of each training example, weighing its term of the kernel (default 1)."""
    phi = phi_train.double()
    w = torch.ones(len(phi), dtype=phi.dtype) if counts is None else counts.double()
    K = (phi * w[:, None]).T @ phi
    lam = ridge * float(K.diagonal().mean()) + 1e-12
    K = K + lam * torch.eye(K.shape[0], dtype=K.dtype)
    return (phi_target.double() @ torch.linalg.solve(K, phi.T)).float()


def cosine_scores(dots: torch.Tensor, train_sq: torch.Tensor, target_sq: torch.Tensor) -> torch.Tensor:
    """``(n_targets, n_train)`` cosines of full gradients from their dot products ``(n_targets, n_train)`` and
    squared norms ``(n_train,)``, ``(n_targets,)``."""
    return dots / (target_sq.sqrt()[:, None] * train_sq.sqrt()[None, :]).clamp_min(1e-30)


def random_scores(n_targets: int, n_train: int, seed: int = 0) -> torch.Tensor:
    """``(n_targets, n_train)`` seeded uniform scores: the chance ranking."""
    return torch.rand(n_targets, n_train, generator=torch.Generator().manual_seed(seed + 7))
