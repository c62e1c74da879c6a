"""What a run reports: the next-token readout, and the result a run with interventions returns.

The next-token readout of a run: what every page, sweep and metric reports about one.

One place computes it, in float64 from the logits, so the Impair chart, the cluster
metrics and the memory tools agree to the last digit: top-k candidates of the clean
run against the run (mean and spread over noise samples), KL from clean, and one
target token's probability, loss, top-1 share and rank.

What a run with interventions returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch


def mean_std(probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(samples, d_vocab)`` -> mean and sample standard deviation (n - 1; zeros for one sample) over samples.

    The one convention for spread over noise samples (Tensor.std over dim 0 takes a slow
    path on CPU; this is the same statistic, 20x faster).
    """
    mean = probs.mean(dim=0)
    n = probs.shape[0]
    if n == 1:
        return mean, torch.zeros_like(mean)
    return mean, ((probs - mean).square().sum(dim=0) / (n - 1)).sqrt()


@dataclass(frozen=True, eq=False)
class Readout:
    """Next-token summary of a run at the last position, as plain numpy.

    ids:          ``(k,)`` candidate tokens, by max(clean, mean) probability, most likely first.
    clean:        ``(k,)`` their clean probabilities.
    mean, std:    ``(k,)`` their probability under the run: mean and sample std (n - 1) over samples.
    kl:           mean over samples of KL(clean || run), in nats.
    target_*:     the target token (default: the clean top-1): probability clean and mean over
                  samples, mean loss ``-log p``, share of samples that rank it first, and its
                  1-based rank in the clean and the mean probabilities.
    """

    ids: np.ndarray
    clean: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    samples: int
    kl: float
    target_id: int
    target_clean: float
    target_mean: float
    target_loss: float
    target_top1: float
    rank_clean: int
    rank_mean: int


def _rank(probs: torch.Tensor, token: int) -> int:
    return int((probs > probs[token]).sum()) + 1


def read_next_token(logits: torch.Tensor, clean_logits: torch.Tensor, k: int = 10,
                    target_id: int | None = None) -> Readout:
    """The :class:`Readout` of ``(samples, d_vocab)`` logits against ``(d_vocab,)`` clean logits."""
    logp = torch.log_softmax(torch.as_tensor(logits).detach().double().reshape(-1, clean_logits.shape[-1]), -1)
    clean_logp = torch.log_softmax(torch.as_tensor(clean_logits).detach().double().reshape(-1), -1)
    probs, clean = logp.exp(), clean_logp.exp()
    mean, std = mean_std(probs)
    kl = (clean * (clean_logp - logp)).sum(-1).mean().clamp_min(0.0)
    k = max(1, min(int(k), clean.shape[0]))
    # A stable descending sort keeps the lower id first among ties, on every machine.
    order = torch.sort(torch.maximum(clean, mean), descending=True, stable=True).indices[:k]
    t = int(clean.argmax()) if target_id is None else int(target_id)
    return Readout(
        ids=order.numpy().astype(np.int64), clean=clean[order].numpy(), mean=mean[order].numpy(),
        std=std[order].numpy(), samples=int(logp.shape[0]), kl=float(kl), target_id=t,
        target_clean=float(clean[t]), target_mean=float(mean[t]), target_loss=float(-logp[:, t].mean()),
        target_top1=float((logp.argmax(-1) == t).double().mean()),
        rank_clean=_rank(clean, t), rank_mean=_rank(mean, t),
    )


def gain_ratio(p_before, p_after):
    """``p_after / p_before`` elementwise (floats or arrays): above 1 the intervention helped.

    The one definition of gain: 0/0 reads as 1 (no change) and x/0 as inf.
    """
    before, after = np.asarray(p_before, dtype=np.float64), np.asarray(p_after, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(before == 0.0, np.where(after == 0.0, 1.0, np.inf), after / before)
    return float(ratio) if ratio.ndim == 0 else ratio


# What long work calls as it goes: ``progress(done, total)``.
Progress = Callable[[int, int], None]


@dataclass(frozen=True, eq=False)
class RunResult:
    """Next-token predictions at the last position of a prompt under some interventions.

    logits:       ``(samples, d_vocab)``, one row per noise sample (identical rows without noise).
    probs_mean:   ``(d_vocab,)`` mean over samples of the softmax probabilities.
    probs_std:    ``(d_vocab,)`` their sample standard deviation (n - 1) over samples (zeros for one sample).
    clean_logits: ``(d_vocab,)`` the same prompt without interventions.
    """

    logits: torch.Tensor
    probs_mean: torch.Tensor
    probs_std: torch.Tensor
    clean_logits: torch.Tensor

    @property
    def samples(self) -> int:
        return self.logits.shape[0]

    @property
    def clean_probs(self) -> torch.Tensor:
        """``(d_vocab,)`` softmax of ``clean_logits``."""
        return torch.softmax(self.clean_logits, dim=-1)

    @staticmethod
    def from_logits(logits: torch.Tensor, clean_logits: torch.Tensor, samples: int | None = None) -> "RunResult":
        """Summarise ``(k, d_vocab)`` logits; a single row stands for ``samples`` identical runs."""
        if logits.shape[0] == 1 and samples is not None and samples > 1:
            one = RunResult.from_logits(logits, clean_logits)
            return RunResult(logits=logits.expand(samples, -1).clone(), probs_mean=one.probs_mean,
                             probs_std=one.probs_std, clean_logits=clean_logits)
        mean, std = mean_std(torch.softmax(logits, dim=-1))
        return RunResult(logits=logits, probs_mean=mean, probs_std=std, clean_logits=clean_logits)

    def readout(self, k: int = 10, target_id: int | None = None) -> Readout:
        """Top-k clean against this run, KL from clean, and ``target_id``'s fate (default: the clean top-1)."""
        return read_next_token(self.logits, self.clean_logits, k, target_id)
