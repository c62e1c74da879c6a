"""Train lenses until they stop improving: a learning rate chosen on validation text, then early stopping.

A lens set is only as good as its training: a fixed small budget leaves a lens (the full
one, which starts from the raw unembedding) worse than a constant distribution. Both choices
here are made on validation lines carved from the training text, so the held-out text
that ``lens eval`` reports on is never used to tune anything.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import Callable

import torch

from lens.errors import LensSpecError

log = logging.getLogger(__name__)

LR_GRID = {"compact": (1e-3, 3e-3, 1e-2), "full": (1e-3, 3e-3, 1e-2)}
EVAL_EVERY = 50
PATIENCE = 3
MIN_GAIN = 1e-3  # nats: a smaller fall in validation KL does not count as improving
PROBE_STEPS = 100
MAX_VAL_TEXTS = 128


@dataclass(frozen=True)
class Convergence:
    """How lenses are trained to convergence: ``lrs`` to choose from on ``PROBE_STEPS``-step probes
    (one value: no choice), validation KL every ``every`` steps, stop after ``patience`` checks
    without a fall of ``min_gain``; ``validation`` is the share of training lines held for this."""

    lrs: tuple[float, ...] = ()
    every: int = EVAL_EVERY
    patience: int = PATIENCE
    min_gain: float = MIN_GAIN
    probe_steps: int = PROBE_STEPS
    validation: float = 0.05

    def __post_init__(self) -> None:
        if self.every < 1 or self.patience < 1 or self.probe_steps < 1:
            raise LensSpecError(f"every, patience and probe_steps must be at least 1, got {self.every}, "
                             f"{self.patience}, {self.probe_steps}")
        if not 0.0 < self.validation < 0.5:
            raise LensSpecError(f"validation must be in (0, 0.5), got {self.validation}")


class EarlyStop:
    """Keeps the lenses' best state by validation KL; says when ``patience`` checks passed without a gain."""

    def __init__(self, validate: Callable[[], float], config: Convergence) -> None:
        self.validate = validate
        self.config = config
        self.best = float("inf")
        self.best_step = 0
        self.best_state: dict | None = None
        self.bad = 0
        self.history: list[tuple[int, float]] = []

    def check(self, step: int, lenses: dict[int, torch.nn.Module]) -> bool:
        """Score the lenses after ``step`` steps; True when training should stop."""
        kl = self.validate()
        self.history.append((step, kl))
        if kl < self.best - self.config.min_gain:
            self.best, self.best_step, self.bad = kl, step, 0
            self.best_state = {layer: copy.deepcopy(lens.state_dict()) for layer, lens in lenses.items()}
        else:
            self.bad += 1
        return self.bad >= self.config.patience

    def restore(self, lenses: dict[int, torch.nn.Module]) -> int:
        """Load the best state into ``lenses``; returns the step it was reached at (0: none recorded)."""
        if self.best_state is not None:
            for layer, lens in lenses.items():
                lens.load_state_dict(self.best_state[layer])
        return self.best_step


def choose_lr(lrs: tuple[float, ...], probe: Callable[[float], float]) -> tuple[float, dict[float, float]]:
    """The learning rate whose short probe run ``probe(lr)`` reaches the lowest validation KL, and every score."""
    if not lrs:
        raise LensSpecError("choose_lr needs at least one learning rate")
    scores = {lr: probe(lr) for lr in lrs}
    best = min(scores, key=lambda lr: (scores[lr], lr))
    log.info("learning rate %g chosen on validation: %s", best,
             ", ".join(f"{lr:g} -> {kl:.4f}" for lr, kl in scores.items()))
    return best, scores
