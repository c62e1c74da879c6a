"""Next-token probabilities of a clean and an impaired run, reduced to what the live chart shows.

Plain numpy, no Streamlit: the page caches the small result, never full logits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.errors import NonFiniteError
from engine.readout import read_next_token


@dataclass(frozen=True)
class NextTokenProbs:
    """The top next tokens of a clean run against an impaired one (K noise samples).

    ``token_ids``/``labels``: the k candidates, ordered by max(clean, impaired) probability.
    ``clean``, ``impaired``, ``impaired_std``: ``(k,)`` probabilities (mean and sample std over samples).
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


def token_label(text: str) -> str:
    """A token's text as a chart label: quoted so leading spaces and newlines show."""
    return repr(text)


def summarise_run(run: Any, token_strs, k: int = 10, target_id: int | None = None) -> NextTokenProbs:
    """The chart's numbers: the engine's next-token readout of ``run`` (see ``RunResult.readout``), with labels.

    ``run.logits``: ``(samples, d_vocab)``; ``run.clean_logits``: ``(d_vocab,)``.
    ``token_strs``: callable ids -> texts (the engine's ``token_strs``).
    ``target_id``: the token whose probability and rank to follow; None = the clean top-1.
    """
    logits, clean_logits = torch.as_tensor(run.logits), torch.as_tensor(run.clean_logits)
    if not (torch.isfinite(logits).all() and torch.isfinite(clean_logits).all()):
        raise NonFiniteError("the impaired run produced NaN or inf; lower the intensity")
    r = read_next_token(logits, clean_logits, k, target_id)
    texts = token_strs([int(i) for i in r.ids] + [r.target_id])
    return NextTokenProbs(
        token_ids=r.ids, labels=tuple(token_label(t) for t in texts[:-1]),
        clean=r.clean, impaired=r.mean, impaired_std=r.std, samples=r.samples, kl=r.kl,
        target_id=r.target_id, target_label=token_label(texts[-1]),
        target_clean=r.target_clean, target_impaired=r.target_mean,
        rank_clean=r.rank_clean, rank_impaired=r.rank_mean,
    )
