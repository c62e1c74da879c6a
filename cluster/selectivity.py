"""Per-unit topic selectivity and the top-p%-per-layer rule, on plain arrays."""

from __future__ import annotations

import numpy as np

from cluster.errors import ClusterError

# Keeps dead units (zero spread on both sides) at a finite, near-zero score.
EPS = 1e-6


def selectivity(acts: np.ndarray, is_topic: np.ndarray) -> np.ndarray:
    """How much more a unit fires on the topic than on the rest, in pooled standard deviations.

    acts: ``(n_prompts, ...)`` activations at each prompt's last position.
    is_topic: ``(n_prompts,)`` bool, True for the topic's prompts.
    Returns ``(...)``: (mean on topic - mean on others) / pooled std.
    """
    is_topic = np.asarray(is_topic, dtype=bool)
    acts = np.asarray(acts, dtype=np.float64)
    if is_topic.shape != acts.shape[:1]:
        raise ClusterError(f"is_topic has shape {is_topic.shape}; expected ({acts.shape[0]},), one flag per prompt")
    n_in, n_out = int(is_topic.sum()), int((~is_topic).sum())
    if n_in < 2 or n_out < 2:
        raise ClusterError(
            f"selectivity needs at least 2 prompts on the topic and 2 off it, got {n_in} and {n_out}; add prompts"
        )
    on, off = acts[is_topic], acts[~is_topic]
    pooled_var = ((n_in - 1) * on.var(axis=0, ddof=1) + (n_out - 1) * off.var(axis=0, ddof=1)) / (n_in + n_out - 2)
    return (on.mean(axis=0) - off.mean(axis=0)) / (np.sqrt(pooled_var) + EPS)


def units_per_layer(width: int, percent: float) -> int:
    """How many of a layer's ``width`` units make ``percent`` % (at least one)."""
    if not 0 < percent <= 100:
        raise ClusterError(f"percent must be in (0, 100], got {percent}")
    return max(1, int(round(width * percent / 100.0)))


def top_percent(scores: np.ndarray, percent: float) -> tuple[list[tuple[int, int]], list[float]]:
    """The ``percent`` % highest-scoring units of every layer.

    scores: ``(n_layers, width)``. Returns the (layer, unit) pairs and their scores;
    ties go to the lower unit index, so the choice is deterministic.
    """
    scores = np.asarray(scores, dtype=np.float64)
    k = units_per_layer(scores.shape[1], percent)
    pairs: list[tuple[int, int]] = []
    values: list[float] = []
    for layer, row in enumerate(scores):
        best = np.argsort(-row, kind="stable")[:k]
        pairs += [(layer, int(u)) for u in best]
        values += [float(row[u]) for u in best]
    return pairs, values


def standardise(profiles: np.ndarray, min_std: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """Z-score each row of ``profiles`` ``(n_units, n_prompts)``; rows that barely vary are dropped.

    Returns the ``(n_kept, n_prompts)`` z-scores and the ``(n_kept,)`` indices of the kept rows.
    """
    profiles = np.asarray(profiles, dtype=np.float64)
    std = profiles.std(axis=1)
    keep = np.flatnonzero(std > min_std)
    z = (profiles[keep] - profiles[keep].mean(axis=1, keepdims=True)) / std[keep, None]
    return z, keep
