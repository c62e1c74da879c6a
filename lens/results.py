"""What decoding returns: small numpy arrays of top-k tokens, never full vocabulary tensors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def pos_labels(tokens: tuple[str, ...]) -> list[str]:
    """``"3: the"`` for each position: Plotly merges repeated axis labels, so each carries its index."""
    return [f"{i}: {tok}" for i, tok in enumerate(tokens)]


@dataclass(frozen=True, eq=False)
class HeadLensResult:
    """Every head's write at the decoded positions of a prompt, through one lens.

    top_ids, top_probs, top_strs: ``(n_layers, n_heads, n_positions, k)`` for ``layers`` and ``positions``.
    target_prob, target_rank:     ``(n_layers, n_heads, n_positions)``, rank 1 = the top token; None without a target.
    ``tokens`` is the whole prompt; ``positions`` the decoded ones (by default all).
    """

    lens: str
    layers: tuple[int, ...]
    tokens: tuple[str, ...]
    token_ids: tuple[int, ...]
    positions: tuple[int, ...]
    top_ids: np.ndarray
    top_probs: np.ndarray
    top_strs: np.ndarray
    target: str | None = None
    target_id: int | None = None
    target_prob: np.ndarray | None = None
    target_rank: np.ndarray | None = None

    @property
    def n_heads(self) -> int:
        return self.top_ids.shape[1]

    @property
    def labels(self) -> list[str]:
        return pos_labels(self.tokens)

    def row(self, layer: int) -> int:
        """Index along the first axis of the arrays for model layer ``layer``."""
        if layer not in self.layers:
            raise IndexError(f"layer {layer} was not decoded; decoded layers: {self.layers}")
        return self.layers.index(layer)

    def col(self, pos: int) -> int:
        """Index along the position axis of the arrays for prompt position ``pos`` (negative counts from the end)."""
        n_pos = len(self.tokens)
        if not -n_pos <= pos < n_pos:
            raise IndexError(f"position {pos} does not exist; the prompt has positions 0-{n_pos - 1}")
        if pos % n_pos not in self.positions:
            raise IndexError(f"position {pos % n_pos} was not decoded; decoded positions: {self.positions}")
        return self.positions.index(pos % n_pos)


@dataclass(frozen=True, eq=False)
class LogitLensResult:
    """The residual stream at ``site`` of every layer and position, through final norm and unembedding.

    top_ids, top_probs, top_strs: ``(n_layers, pos, k)``.
    target_prob, target_rank:     ``(n_layers, pos)``, rank 1 = the top token; None without a target.
    """

    site: str
    layers: tuple[int, ...]
    tokens: tuple[str, ...]
    token_ids: tuple[int, ...]
    top_ids: np.ndarray
    top_probs: np.ndarray
    top_strs: np.ndarray
    target: str | None = None
    target_id: int | None = None
    target_prob: np.ndarray | None = None
    target_rank: np.ndarray | None = None

    @property
    def labels(self) -> list[str]:
        return pos_labels(self.tokens)


@dataclass(frozen=True, eq=False)
class PatternResult:
    """Attention probabilities of one layer: ``pattern`` is ``(n_heads, pos, pos)`` (query, key)."""

    layer: int
    tokens: tuple[str, ...]
    pattern: np.ndarray

    @property
    def labels(self) -> list[str]:
        return pos_labels(self.tokens)
