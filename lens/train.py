"""Train Attention Lenses for a model: every head of the chosen layers, each on its own KL objective.

One clean batched forward per step feeds every layer's lenses; the heads' losses are summed,
and since no parameter is shared between heads and Adam is per-parameter, this is exactly
training each head's lens alone (see ``lens.objective`` for the choice of objective).
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Sequence

import torch
from tqdm import tqdm

from engine.engine import Engine
from engine.errors import OutOfRangeError
from lens.capture import adapter_of, capture_batch
from lens.convergence import MAX_VAL_TEXTS, Convergence, EarlyStop, choose_lr
from lens.checkpoint import load_checkpoint, remove_checkpoint, save_checkpoint
from lens.data import Batches, eval_batches, pad_id, split_holdout, split_validation, text_digest, tokenize
from lens.errors import LensSpecError
from lens.header import DataInfo, LensHeader
from lens.integrity import check_target
from lens.kinds import KINDS, LayerLens, new_layer_lens
from lens.objective import layer_kl
from lens.storage import LensSet, open_lenses, save_lenses
from lens.unembed import Unembed
from sweepio import OutputLock

log = logging.getLogger(__name__)

DEFAULT_STEPS = 400
DEFAULT_BATCH = 32
DEFAULT_MAX_LEN = 64
# Adam learning rates: the original used 1e-3 for its full lenses; compact translators start at
# the identity and tolerate more (on the demo model 3e-3, 5e-3 and 1e-2 reach held-out KLs within
# 0.05 nats of each other; higher rates overshoot on near-uniform models).
DEFAULT_LR = {"compact": 3e-3, "full": 1e-3}
MAX_EVAL_TEXTS = 256
Progress = Callable[[int, int], None]


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


def _step(engine: Engine, lenses: dict[int, LayerLens], unembed: Unembed, batch, backward: bool) -> dict[int, torch.Tensor]:
    """``{layer: (n_heads,) KL}`` on one batch; with ``backward``, gradients are accumulated."""
    acts = capture_batch(engine, batch, tuple(lenses))
    n_heads = engine.spec.n_heads
    with torch.set_grad_enabled(backward):
        return {layer: layer_kl(lambda x, heads, lens=lens: lens(x, unembed, heads), acts.head_writes[layer],
                                acts.log_probs, n_heads, backward)
                for layer, lens in lenses.items()}


def heldout_kl(engine: Engine, lenses: dict[int, LayerLens], unembed: Unembed, texts: Sequence[str],
               batch_size: int, max_len: int) -> dict[int, torch.Tensor]:
    """``{layer: (n_heads,)}`` KL(final || lens) averaged over every real position of ``texts``."""
    total = {layer: torch.zeros(engine.spec.n_heads) for layer in lenses}
    n = 0
    for batch in eval_batches(tokenize(engine, texts, max_len), batch_size, pad_id(engine)):
        for layer, kl in _step(engine, lenses, unembed, batch, backward=False).items():
            total[layer] += kl * batch.n_real
        n += batch.n_real
    return {layer: t / max(n, 1) for layer, t in total.items()}


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
            kl = _step(engine, lenses, unembed, batches.at(step), backward=True)
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
    torch.manual_seed(seed)
    lenses = {layer: new_layer_lens(kind, engine.spec.n_heads, unembed, rank) for layer in layers}
    opt = torch.optim.Adam([p for lens in lenses.values() for p in lens.parameters()], lr=lr)
    _optimise(engine, lenses, unembed, opt, batches, 0, steps, lambda done: None, lambda *a: None)
    return validate(lenses)


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
    recorded in the header. ``lr`` defaults to :data:`DEFAULT_LR` of ``kind``. Every
    ``checkpoint_every`` steps the state is saved to ``out_dir``; calling again with the same
    settings resumes from it. ``progress(done, total)`` is called after each step; without it a
    tqdm bar is shown. Deterministic for a seed. ``out_dir`` is written whole at the end; one
    that already holds lenses is replaced only with ``overwrite`` (checked before any work), and
    a second run into the same folder while this one runs is refused (OutputLockedError).

    With ``converge``, validation lines are carved from the training lines: the learning rate
    (when ``lr`` is None) is chosen among ``converge.lrs`` by short probes, and training stops once
    the validation KL stops falling (``steps`` is then the most it may run); the best state is kept,
    and the header records the step it was reached at. A resumed run restarts the patience count.
    """
    layers = _check_args(engine, kind, layers, steps, rank)
    check_target(out_dir, overwrite)
    with OutputLock.beside(out_dir):  # a second run into the same folder is refused, not mixed in
        train_texts, held = split_holdout(texts, holdout)
        train_texts, val = _carve_validation(train_texts, converge)
        batches = Batches(tokenize(engine, train_texts, max_len), batch_size, seed, pad_id(engine))
        spec = engine.spec
        unembed = Unembed.from_adapter(adapter_of(engine))

        def validate(lenses: dict[int, LayerLens]) -> float:
            kl = heldout_kl(engine, lenses, unembed, val, batch_size, max_len)
            return float(torch.stack(list(kl.values())).mean())

        if lr is None and converge is not None and converge.lrs:
            lr = converge.lrs[0] if len(converge.lrs) == 1 else choose_lr(
                converge.lrs, lambda rate: _probe(engine, kind, layers, rank, unembed, batches, rate, seed,
                                                  min(converge.probe_steps, steps), validate))[0]
        lr = DEFAULT_LR[kind] if lr is None else lr
        data = DataInfo(data_name, text_digest(texts), len(texts), holdout)
        run_key = {"kind": kind, "rank": rank, "layers": list(layers), "seed": seed, "lr": lr, "steps": steps,
                   "batch_size": batch_size, "max_len": max_len, "fingerprint": spec.fingerprint,
                   "data": data.sha256, "holdout": holdout,
                   "converge": None if converge is None else asdict(converge)}
        torch.manual_seed(seed)
        lenses = {layer: new_layer_lens(kind, spec.n_heads, unembed, rank) for layer in layers}
        opt = torch.optim.Adam([p for lens in lenses.values() for p in lens.parameters()], lr=lr)

        def checkpoint(done: int) -> None:
            if checkpoint_every > 0 and done % checkpoint_every == 0 and done < steps:
                save_checkpoint(out_dir, run_key, done, lenses, opt)

        start = min(load_checkpoint(out_dir, run_key, lenses, opt), steps)
        stopper = EarlyStop(lambda: validate(lenses), converge) if converge is not None else None
        stop = None if stopper is None else (lambda done: done % converge.every == 0 and stopper.check(done, lenses))
        kl = _optimise(engine, lenses, unembed, opt, batches, start, steps, checkpoint, progress, stop)
        steps = _finish(stopper, converge, lenses, steps)
        if held:
            kl = heldout_kl(engine, lenses, unembed, held[:MAX_EVAL_TEXTS], batch_size, max_len)
        header = LensHeader(
            kind=kind, model_name=spec.name, fingerprint=spec.fingerprint, n_layers=spec.n_layers,
            n_heads=spec.n_heads, d_model=spec.d_model, d_vocab=spec.d_vocab, layers=layers, rank=rank,
            data=data, steps=steps, seed=seed, lr=lr,
            final_kl=tuple(tuple(round(float(x), 5) for x in kl[l]) if l in kl else () for l in layers))
        states = {layer: lens.state_dict() for layer, lens in lenses.items()}
        save_lenses(out_dir, header, states, overwrite=overwrite)
        remove_checkpoint(out_dir)
        log.info("saved %s lenses for layers %s to %s", kind, layers, out_dir)
        return open_lenses(out_dir, spec, unembed)
