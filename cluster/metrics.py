"""Per-prompt metrics of one run: answer probability, loss, top-1 accuracy, KL from clean."""

from __future__ import annotations

import numpy as np
import torch

from cluster.errors import ClusterError
from engine.readout import read_next_token

METRICS: tuple[str, ...] = ("prob", "loss", "accuracy", "kl")
METRIC_LABELS = {
    "prob": "p(answer)",
    "loss": "loss, -log p(answer)",
    "accuracy": "top-1 accuracy",
    "kl": "KL(clean || impaired)",
}
# +1 where a larger value means a more impaired model, -1 where smaller does.
WORSE = np.array([-1.0, 1.0, -1.0, 1.0])


def prompt_metrics(logits: torch.Tensor, clean_logits: torch.Tensor, answer: int) -> np.ndarray:
    """``(len(METRICS),)`` metrics of one prompt, averaged over noise samples (the engine's readout).

    logits: ``(samples, d_vocab)`` at the last position; clean_logits: ``(d_vocab,)``;
    answer: the answer's first token id.
    """
    r = read_next_token(logits, clean_logits, k=1, target_id=answer)
    return np.array([r.target_mean, r.target_loss, r.target_top1, r.kl])


def runs_metrics(logits: torch.Tensor, clean_logits: torch.Tensor, answer: int) -> np.ndarray:
    """``(runs, len(METRICS))``: :func:`prompt_metrics` of each of several runs of one prompt.

    logits: ``(runs, samples, d_vocab)`` at the last position; clean_logits: ``(d_vocab,)``.
    """
    return np.stack([prompt_metrics(run, clean_logits, answer) for run in logits])


def metric_index(metric: str) -> int:
    """Position of ``metric`` in METRICS; ClusterError names the choices."""
    if metric not in METRICS:
        raise ClusterError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    return METRICS.index(metric)
