"""What a run with interventions returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from engine.readout import Readout, mean_std, read_next_token

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
