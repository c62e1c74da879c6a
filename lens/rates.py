"""How a lens's learning rate is chosen: one rule for both kinds, on validation lines only.

Short probes rank the grid's rates. Probes favour fast starters, so a winner at the top of the
grid is not trusted: the rule also trains the next rate above to its own stop, and keeps the
rate whose converged validation KL is lower (the above-grid check). A rate is never pinned by
a comment in a recipe: the world build and ``lens train`` both run this rule.
"""

from __future__ import annotations

import logging
from typing import Callable

from lens.errors import LensSpecError

log = logging.getLogger(__name__)

# Adam rates probed for either kind (the original full lenses used 1e-3; compact translators
# start at the identity and tolerate more).
LR_GRID: tuple[float, ...] = (1e-3, 3e-3, 1e-2)
# Without validation (``--fixed``) a run takes these.
DEFAULT_LR = {"compact": 3e-3, "full": 1e-3}


def choose_lr(lrs: tuple[float, ...], probe: Callable[[float], float]) -> tuple[float, dict[float, float]]:
    """The learning rate whose short probe run ``probe(lr)`` reaches the lowest validation KL, and every score."""
    if not lrs:
        raise LensSpecError("choose_lr needs at least one learning rate")
    scores = {lr: probe(lr) for lr in lrs}
    best = min(scores, key=lambda lr: (scores[lr], lr))
    log.info("learning rate %g chosen on validation: %s", best,
             ", ".join(f"{lr:g} -> {kl:.4f}" for lr, kl in scores.items()))
    return best, scores


def rate_above(lrs: tuple[float, ...]) -> float:
    """The next rate above a grid of two or more, one grid step up (the ratio of its two largest rates)."""
    if len(set(lrs)) < 2:
        raise LensSpecError(f"a rate above the grid needs a grid of two rates or more, got {lrs}")
    top = sorted(set(lrs))
    return top[-1] * top[-1] / top[-2]


def rates_to_train(lr: float | None, kind: str, lrs: tuple[float, ...], above_grid: bool,
                   probe: Callable[[float], float]) -> tuple[float, ...]:
    """The rates to train to their own stop: ``lr`` if given; else the probes' choice among ``lrs``, plus the
    rate above when the choice is the largest of a grid of several (and ``above_grid``; one rate is a
    pinned choice, not a grid); with no ``lrs``, ``DEFAULT_LR``."""
    if lr is not None:
        return (lr,)
    if not lrs:
        return (DEFAULT_LR[kind],)
    chosen = lrs[0] if len(lrs) == 1 else choose_lr(lrs, probe)[0]
    if above_grid and len(set(lrs)) > 1 and chosen == max(lrs):
        log.info("learning rate %g is the grid's largest: %g is trained to its stop too", chosen, rate_above(lrs))
        return chosen, rate_above(lrs)
    return (chosen,)
