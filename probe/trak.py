"""TRAK scores from projected gradients, the gradient-similarity baseline, and a seeded random ranking.

With ``phi_i = P^T g_i`` (``g_i`` a training sentence's log-likelihood gradient, ``P`` a seeded Gaussian
``(n_params, dim)`` matrix scaled by ``1/sqrt(dim)``) and ``phi_t`` a target's projected margin gradient,
TRAK's score of sentence ``i`` for target ``t`` is ``phi_t^T (Phi^T Phi + lambda I)^-1 phi_i``: positive when
training on the sentence raises the margin. ``lambda`` is ``ridge`` times the mean diagonal of ``Phi^T Phi``.
"""

from __future__ import annotations

import torch

from probe.errors import ProbeError

PROJECTION_BLOCK = 1 << 14  # rows of P made at once: 16k x dim floats


class Projection:
    """A seeded Gaussian ``(n_params, dim)`` projection scaled by ``1/sqrt(dim)``, never held whole: each block of
    :data:`PROJECTION_BLOCK` rows is drawn again from its own seed whenever it is applied, so memory stays at one
    block however large the model and ``dim``."""

    def __init__(self, n_params: int, dim: int, seed: int = 0) -> None:
        if dim < 1:
            raise ProbeError(f"the projection needs at least one dimension; got {dim}")
        self.n_params, self.dim, self.seed = n_params, dim, seed

    def block(self, i: int) -> torch.Tensor:
        """Rows ``i * PROJECTION_BLOCK`` onward of P."""
        rows = min(PROJECTION_BLOCK, self.n_params - i * PROJECTION_BLOCK)
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + i)
        return torch.randn(rows, self.dim, generator=gen) / self.dim ** 0.5

    def apply(self, g: torch.Tensor) -> torch.Tensor:
        """``(n, n_params)`` -> ``(n, dim)``."""
        out = torch.zeros(g.shape[0], self.dim)
        for i, start in enumerate(range(0, self.n_params, PROJECTION_BLOCK)):
            out += g[:, start:start + PROJECTION_BLOCK] @ self.block(i)
        return out


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
