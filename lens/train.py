"""Train Attention Lenses for a model until they stop improving: every head of the chosen layers, each on its own KL.

One clean batched forward per step feeds every layer's lenses; the heads' losses are summed,
and since no parameter is shared between heads and Adam is per-parameter, this is exactly
training each head's lens alone (see ``lens.evaluate`` for the choice of objective).

A lens set is only as good as its training: a fixed small budget leaves a lens (the full
one, which starts from the raw unembedding) worse than a constant distribution. So the
learning rate is chosen on validation text, then training stops early once the validation
KL stops falling. Both choices are made on validation lines carved from the training text,
so the held-out text that ``lens eval`` reports on is never used to tune anything.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Callable, Sequence

import torch
from tqdm import tqdm

from engine.engine import Engine
from engine.errors import OutOfRangeError
from lens.data import Batches, pad_id, split_holdout, split_validation, text_digest, tokenize
from lens.errors import LensSpecError
from lens.evaluate import batch_kl, heldout_kl
from lens.header import DataInfo, LensHeader, check_target
from lens.lenses import KINDS, LayerLens, Unembed, new_layer_lens
from lens.rates import DEFAULT_LR, LR_GRID, choose_lr, rates_to_train  # noqa: F401 (re-exported)
from lens.storage import LensSet, load_checkpoint, open_lenses, remove_checkpoint, save_checkpoint, save_lenses
from sweeps import OutputLock
from engine.readout import Progress

log = logging.getLogger(__name__)

DEFAULT_STEPS = 400
DEFAULT_BATCH = 32
DEFAULT_MAX_LEN = 64
MAX_EVAL_TEXTS = 256
EVAL_EVERY = 50
PATIENCE = 10  # fewer checks stop on noise: at 3 both kinds stopped thousands of steps early on the demo
MIN_GAIN = 1e-3  # nats: a smaller fall in validation KL does not count as improving
PROBE_STEPS = 100
MAX_VAL_TEXTS = 128


@dataclass(frozen=True)
class Convergence:
    """How lenses are trained to convergence: ``lrs`` to choose from on ``PROBE_STEPS``-step probes
    (one value: no choice; with ``above_grid``, a choice at the grid's top also trains the rate above
    to its own stop, see :mod:`lens.rates`), validation KL every ``every`` steps, stop after ``patience``
    checks without a fall of ``min_gain``; ``validation`` is the share of training lines held for this."""

    lrs: tuple[float, ...] = LR_GRID
    above_grid: bool = True
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


def _check_args(engine: Engine, kind: str, layers: Sequence[int] | None, steps: int, rank: int | None) -> tuple[int, ...]:
    if kind not in KINDS:
        raise LensSpecError(f"unknown lens kind {kind!r}; choose one of {', '.join(KINDS)}")
    if steps < 1:
        raise LensSpecError(f"steps must be at least 1, got {steps}")
    if rank is not None and not 1 <= rank < engine.spec.d_model:
        raise LensSpecError(f"--rank must be from 1 to {engine.spec.d_model - 1} (below this model's width "
                            f"d_model = {engine.spec.d_model}), got {rank}; or leave it out for full-rank translators")
    n_layers = engine.spec.n_layers
    layers = tuple(range(n_layers)) if layers is None else tuple(sorted(set(layers)))
    if not layers:
        raise OutOfRangeError(f"no layers chosen; this model has layers 0-{n_layers - 1}")
    return tuple(engine.check_layer(l) for l in layers)


def _validation_kl(engine: Engine, unembed: Unembed, texts: Sequence[str], batch_size: int, max_len: int,
                   lenses: dict[int, LayerLens]) -> float:
    """The held-out KL of ``lenses`` on ``texts``, averaged over layers and heads (the validation score)."""
    kl = heldout_kl(engine, lenses, unembed, texts, batch_size, max_len)
    return float(torch.stack(list(kl.values())).mean())


def _fresh_lenses(engine: Engine, kind: str, layers: tuple[int, ...], rank: int | None, unembed: Unembed,
                  lr: float, seed: int) -> tuple[dict[int, LayerLens], torch.optim.Optimizer]:
    """Newly initialised lenses of ``layers`` (seeded by ``seed``) and their Adam optimiser at ``lr``."""
    torch.manual_seed(seed)
    lenses = {layer: new_layer_lens(kind, engine.spec.n_heads, unembed, rank) for layer in layers}
    opt = torch.optim.Adam([p for lens in lenses.values() for p in lens.parameters()], lr=lr)
    return lenses, opt


def _optimise(engine: Engine, lenses: dict[int, LayerLens], unembed: Unembed, opt: torch.optim.Optimizer,
              batches: Batches, start: int, steps: int, checkpoint: Callable[[int], None],
              progress: Progress | None, stop: Callable[[int], bool] | None = None) -> dict[int, torch.Tensor]:
    """Run steps ``start..steps-1``; ``checkpoint(done)`` after each; return the last step's KL per head.

    ``stop(done)``, when given, is asked after each step and ends training early when it says so.
    """
    bar = tqdm(total=steps, initial=start, desc="lenses", disable=progress is not None)
    kl: dict[int, torch.Tensor] = {}
    try:
        for step in range(start, steps):
            opt.zero_grad(set_to_none=True)
            kl = batch_kl(engine, lenses, unembed, batches.at(step), backward=True)
            opt.step()
            bar.update(1)
            bar.set_postfix(kl=f"{float(torch.cat(list(kl.values())).mean()):.3f}")
            checkpoint(step + 1)
            if progress is not None:
                progress(step + 1, steps)
            if stop is not None and stop(step + 1):
                break
    finally:
        bar.close()  # before any message about an interruption, not after it at exit
    return kl


def _probe(engine: Engine, kind: str, layers: tuple[int, ...], rank: int | None, unembed: Unembed,
           batches: Batches, lr: float, seed: int, steps: int,
           validate: Callable[[dict[int, LayerLens]], float]) -> float:
    """Validation KL of fresh lenses after ``steps`` steps at ``lr`` (to compare learning rates)."""
    lenses, opt = _fresh_lenses(engine, kind, layers, rank, unembed, lr, seed)
    _optimise(engine, lenses, unembed, opt, batches, 0, steps, lambda done: None, lambda *a: None)
    return validate(lenses)


def _train_at(engine: Engine, kind: str, layers: tuple[int, ...], rank: int | None, unembed: Unembed,
              batches: Batches, out_dir: Path, seed: int, steps: int, checkpoint_every: int,
              progress: Progress | None, converge: Convergence | None,
              validate: Callable[[dict[int, LayerLens]], float], key: dict, lr: float):
    """Fresh lenses trained at ``lr`` (to their stop with ``converge``): (lr, lenses, last KL, step, validation KL)."""
    run_key = {"kind": kind, "rank": rank, "layers": list(layers), "seed": seed, "lr": lr, "steps": steps,
               "fingerprint": engine.spec.fingerprint, **key,
               "converge": None if converge is None else asdict(converge)}
    lenses, opt = _fresh_lenses(engine, kind, layers, rank, unembed, lr, seed)
    kl, best = _fit(engine, lenses, unembed, opt, batches, out_dir, run_key, steps, checkpoint_every,
                    progress, converge, validate)
    return lr, lenses, kl, best, validate(lenses) if converge is not None else 0.0


def _carve_validation(train_texts: list[str], converge: Convergence | None) -> tuple[list[str], list[str]]:
    """(lines to train on, validation lines); without ``converge`` nothing is carved."""
    if converge is None:
        return train_texts, []
    train_texts, val = split_validation(train_texts, converge.validation)
    return train_texts, val[:MAX_VAL_TEXTS]


def _finish(stopper: EarlyStop | None, converge: Convergence | None, lenses: dict[int, LayerLens],
            steps: int) -> int:
    """Load the best validation state into ``lenses``; the step it was reached at (``steps`` without one)."""
    if stopper is None or converge is None:
        return steps
    ran_out = stopper.bad < converge.patience  # reached ``steps`` without stopping: score the last state too
    if ran_out and (not stopper.history or stopper.history[-1][0] != steps):
        stopper.check(steps, lenses)
    best = stopper.restore(lenses)
    log.info("lenses stopped at step %d (validation KL %.4f; checks: %s)", best, stopper.best,
             ", ".join(f"{s}: {k:.4f}" for s, k in stopper.history))
    return best


def _fit(engine: Engine, lenses: dict[int, LayerLens], unembed: Unembed, opt: torch.optim.Optimizer,
         batches: Batches, out_dir: Path, run_key: dict, steps: int, checkpoint_every: int,
         progress: Progress | None, converge: Convergence | None,
         validate: Callable[[dict[int, LayerLens]], float]) -> tuple[dict[int, torch.Tensor], int]:
    """Train ``lenses`` on from a matching checkpoint in ``out_dir`` (else from step 0), checkpointing as it goes;
    the last step's KL per head, and the step whose state they end in (with ``converge``, the best one)."""
    def checkpoint(done: int) -> None:
        if checkpoint_every > 0 and done % checkpoint_every == 0 and done < steps:
            save_checkpoint(out_dir, run_key, done, lenses, opt)

    start = min(load_checkpoint(out_dir, run_key, lenses, opt), steps)
    stopper = EarlyStop(lambda: validate(lenses), converge) if converge is not None else None
    stop = None if stopper is None else (lambda done: done % converge.every == 0 and stopper.check(done, lenses))
    kl = _optimise(engine, lenses, unembed, opt, batches, start, steps, checkpoint, progress, stop)
    return kl, _finish(stopper, converge, lenses, steps)


def _save(engine: Engine, out_dir: Path, header: LensHeader, lenses: dict[int, LayerLens],
          unembed: Unembed, overwrite: bool) -> LensSet:
    """Write the trained lenses whole under ``header``, drop the checkpoint, and open the folder."""
    states = {layer: lens.state_dict() for layer, lens in lenses.items()}
    save_lenses(out_dir, header, states, overwrite=overwrite)
    remove_checkpoint(out_dir)
    log.info("saved %s lenses for layers %s to %s", header.kind, header.layers, out_dir)
    return open_lenses(out_dir, engine.spec, unembed)


def train_lenses(
    engine,
    texts: Sequence[str],
    out_dir: Path,
    kind: str = "compact",
    layers: Sequence[int] | None = None,
    steps: int = DEFAULT_STEPS,
    seed: int = 0,
    checkpoint_every: int = 100,
    progress: Progress | None = None,
    *,
    rank: int | None = None,
    batch_size: int = DEFAULT_BATCH,
    max_len: int = DEFAULT_MAX_LEN,
    lr: float | None = None,
    holdout: float = 0.05,
    data_name: str = "texts",
    overwrite: bool = False,
    converge: Convergence | None = None,
) -> LensSet:
    """Train lenses of ``kind`` for every head of ``layers`` (default all) on ``texts``; save them to ``out_dir``.

    The last ``holdout`` share of ``texts`` is not trained on; the held-out KL per head is
    recorded in the header. ``lr``, when given, is used as is; else :mod:`lens.rates` chooses it
    (with ``converge``; without, :data:`DEFAULT_LR` of ``kind``). Every
    ``checkpoint_every`` steps the state is saved to ``out_dir``; calling again with the same
    settings resumes from it. ``progress(done, total)`` is called after each step; without it a
    tqdm bar is shown. Deterministic for a seed. ``out_dir`` is written whole at the end; one
    that already holds lenses is replaced only with ``overwrite`` (checked before any work), and
    a second run into the same folder while this one runs is refused (OutputLockedError).

    With ``converge``, validation lines are carved from the training lines: the learning rate
    (when ``lr`` is None) is chosen among ``converge.lrs`` by short probes (a choice at the grid's
    top also trains the rate above, each to its own stop, keeping the lower validation KL), and training stops once
    the validation KL stops falling (``steps`` is then the most it may run); the best state is kept,
    and the header records the step it was reached at. A resumed run restarts the patience count.
    """
    layers = _check_args(engine, kind, layers, steps, rank)
    check_target(out_dir, overwrite)
    with OutputLock.beside(out_dir):  # a second run into the same folder is refused, not mixed in
        train_texts, held = split_holdout(texts, holdout)
        train_texts, val = _carve_validation(train_texts, converge)
        batches = Batches(tokenize(engine, train_texts, max_len), batch_size, seed, pad_id(engine))
        unembed = Unembed.from_adapter(engine.adapter)
        validate = partial(_validation_kl, engine, unembed, val, batch_size, max_len)
        probe = partial(_probe, engine, kind, layers, rank, unembed, batches, seed=seed,
                        steps=min(converge.probe_steps, steps) if converge else steps, validate=validate)
        rates = rates_to_train(lr, kind, converge.lrs if converge else (), bool(converge and converge.above_grid),
                               lambda rate: probe(lr=rate))
        data = DataInfo(data_name, text_digest(texts), len(texts), holdout)
        fit = partial(_train_at, engine, kind, layers, rank, unembed, batches, out_dir, seed, steps,
                      checkpoint_every, progress, converge, validate,
                      {"batch_size": batch_size, "max_len": max_len, "data": data.sha256, "holdout": holdout})
        runs = [fit(rate) for rate in rates]
        # Each rate trained to its own stop; the lowest validation KL wins (only one run without validation).
        lr, lenses, kl, steps, _ = min(runs, key=lambda r: (r[4], r[0]))
        if len(runs) > 1:
            log.info("above-grid check: %s; keeping %g", ", ".join(f"{r[0]:g} -> {r[4]:.4f}" for r in runs), lr)
        if held:
            kl = heldout_kl(engine, lenses, unembed, held[:MAX_EVAL_TEXTS], batch_size, max_len)
        header = LensHeader.for_model(
            engine.spec, kind, layers, rank=rank, data=data, steps=steps, seed=seed, lr=lr,
            final_kl=tuple(tuple(round(float(x), 5) for x in kl[l]) if l in kl else () for l in layers))
        return _save(engine, out_dir, header, lenses, unembed, overwrite)
