"""Next-token probabilities of a clean and an impaired run, reduced to what the live chart shows.

Plain numpy, no Streamlit: the page caches the small result, never full logits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import NonFiniteError


@dataclass(frozen=True)
class NextTokenProbs:
    """The top next tokens of a clean run against an impaired one (K noise samples).

    ``token_ids``/``labels``: the k candidates, ordered by max(clean, impaired) probability.
    ``clean``, ``impaired``, ``impaired_std``: ``(k,)`` probabilities (mean and spread over samples).
    ``kl``: mean over samples of KL(clean || impaired), in nats.
    ``target_*``: the target token's probability and 1-based rank, clean and impaired.
    """

    token_ids: np.ndarray
    labels: tuple[str, ...]
    clean: np.ndarray
    impaired: np.ndarray
    impaired_std: np.ndarray
    samples: int
    kl: float
    target_id: int
    target_label: str
    target_clean: float
    target_impaired: float
    rank_clean: int
    rank_impaired: int


def as_numpy(x: Any) -> np.ndarray:
    """A torch tensor or array-like -> float64 numpy array."""
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``(..., d_vocab)`` logits -> log-probabilities along the last axis."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def rank_of(probs: np.ndarray, token: int) -> int:
    """1-based rank of ``token`` in ``probs`` ``(d_vocab,)`` (1 = most likely)."""
    return int((probs > probs[token]).sum()) + 1


def token_label(text: str) -> str:
    """A token's text as a chart label: quoted so leading spaces and newlines show."""
    return repr(text)


def summarise_run(run: Any, token_strs, k: int = 10, target_id: int | None = None) -> NextTokenProbs:
    """Reduce an engine RunResult to the chart's numbers.

    ``run.logits``: ``(samples, d_vocab)``; ``run.clean_logits``: ``(d_vocab,)``.
    ``token_strs``: callable ids -> texts (the engine's ``token_strs``).
    ``target_id``: the token whose probability and rank to follow; None = the clean top-1.
    """
    logits = np.atleast_2d(as_numpy(run.logits))
    clean_logits = as_numpy(run.clean_logits)
    if not (np.isfinite(logits).all() and np.isfinite(clean_logits).all()):
        raise NonFiniteError("the impaired run produced NaN or inf; lower the intensity")
    log_clean, log_imp = log_softmax(clean_logits), log_softmax(logits)
    clean, samples_p = np.exp(log_clean), np.exp(log_imp)
    mean, std = samples_p.mean(axis=0), samples_p.std(axis=0)
    kl = float((clean * (log_clean - log_imp)).sum(axis=-1).mean())
    order = np.argsort(-np.maximum(clean, mean), kind="stable")[:k]
    target = int(np.argmax(clean)) if target_id is None else int(target_id)
    texts = token_strs([int(i) for i in order] + [target])
    return NextTokenProbs(
        token_ids=order.astype(np.int64), labels=tuple(token_label(t) for t in texts[:-1]),
        clean=clean[order], impaired=mean[order], impaired_std=std[order],
        samples=int(logits.shape[0]), kl=max(kl, 0.0),
        target_id=target, target_label=token_label(texts[-1]),
        target_clean=float(clean[target]), target_impaired=float(mean[target]),
        rank_clean=rank_of(clean, target), rank_impaired=rank_of(mean, target),
    )
