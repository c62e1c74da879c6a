"""The best constant distribution: the bar any lens must clear to say something about a position.

A lens that ignores its input can still score the KL of the mean next-token distribution
over the training text (the constant that minimises the mean KL(final || q) there). A
lens worse than that has learnt less than the unigram statistics of the model's output.
"""

from __future__ import annotations

from typing import Sequence

import torch

from lens.capture import capture_batch
from lens.data import eval_batches, pad_id, tokenize
from lens.errors import LensSpecError


def _log_probs(engine, texts: Sequence[str], batch_size: int, max_len: int):
    for batch in eval_batches(tokenize(engine, texts, max_len), batch_size, pad_id(engine)):
        yield capture_batch(engine, batch, (0,)).log_probs


def mean_final_distribution(engine, texts: Sequence[str], batch_size: int = 32, max_len: int = 64) -> torch.Tensor:
    """``(d_vocab,)`` the model's final next-token distribution averaged over every real position of ``texts``."""
    total, n = None, 0
    for log_probs in _log_probs(engine, texts, batch_size, max_len):
        probs = log_probs.exp().double().sum(0)
        total = probs if total is None else total + probs
        n += log_probs.shape[0]
    if total is None:
        raise LensSpecError("the best constant distribution needs some training text; none was given")
    return (total / n).float()


def constant_kl(engine, texts: Sequence[str], q: torch.Tensor, batch_size: int = 32, max_len: int = 64) -> float:
    """Mean KL(final || q) in nats over every real position of ``texts``, for a fixed ``(d_vocab,)`` distribution."""
    log_q = q.clamp_min(1e-30).log()
    total, n = 0.0, 0
    for log_probs in _log_probs(engine, texts, batch_size, max_len):
        total += float((log_probs.exp() * (log_probs - log_q)).sum())
        n += log_probs.shape[0]
    return total / max(n, 1)
