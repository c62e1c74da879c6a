"""One door to every unlearning method: a spec in, per-run weight deltas out (the shared model untouched).

    spec = UnlearnSpec("attribution", budget=16)
    result = unlearn(engine, world, secrets, spec)
    engine.generate(prefix, result.deltas)      # the unlearned model, for this run only

Trained unlearning: a learned sparse mask over ``W_out`` (in the spirit of Subnet / BalancedSubnet) and the
fine-tuning baseline. Both minimise one balanced objective over a few dozen Adam steps:

    clean loss  -  min(secret loss, CEILING)

so the secret's continuation becomes unlikely (up to a ceiling, past which only the clean loss
counts) while clean text keeps its loss. Gradients reach only the method's own tensors
(``Engine.token_logprobs`` with ``grad``); the shared model is never written.

- mask: one score per weight of every layer's ``W_out``, frozen weights; the ``k`` top scores are
  removed (``W -> W - mask * W``), the hard top-k in the forward and the identity in the backward
  (straight-through). Scores start at ``log |W * dL_secret/dW|`` (standardised), the first-order effect of removing the weight.
- finetune: a dense change of ``W_out`` in one layer or all, gradient ascent on the secret and descent on
  clean text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from engine import Engine, WeightDelta
from promptsets.schema import SecretPrompt
from unlearn.data import UnlearnError, World
from unlearn.located import (METHOD_TEXT, UNIT_METHODS, Located, Tokens, check_budget, dense_deltas, localize_units, mean_loss,
                              removal_deltas, secret_tokens, text_tokens, weight_grads)

CEILING = 6.0  # nats per secret token: p(token) ~ 0.25%, far below any greedy pick
MASK_STEPS, MASK_LR = 40, 0.1
TUNE_STEPS, TUNE_LR = 30, 1e-3


@dataclass(frozen=True)
class Trained:
    """Losses before and after training: secret and clean, nats per token."""

    secret_before: float
    secret_after: float
    clean_before: float
    clean_after: float


def _objective(engine: Engine, secret: Tokens, clean: Tokens, deltas: dict[int, torch.Tensor]) -> tuple[torch.Tensor, float, float]:
    s, c = mean_loss(engine, secret, deltas, grad=True), mean_loss(engine, clean, deltas, grad=True)
    return c - torch.clamp(s, max=CEILING), float(s.detach()), float(c.detach())


def _check(secrets: Sequence[SecretPrompt], clean: Sequence[str], steps: int) -> None:
    if not secrets:
        raise UnlearnError("no secrets to unlearn; pick at least one")
    if not clean:
        raise UnlearnError("training needs clean text to keep; give --clean FILE")
    if not 1 <= steps <= 10_000:
        raise UnlearnError(f"steps must be from 1 to 10000, got {steps}")


def learn_mask(engine: Engine, secrets: Sequence[SecretPrompt], clean: Sequence[str], budget: int,
               steps: int = MASK_STEPS, lr: float = MASK_LR, seed: int = 0) -> tuple[Located, Trained]:
    """The top ``budget * d_model`` weights of ``W_out`` (as many as ``budget`` whole units) to remove, learned."""
    _check(secrets, clean, steps)
    budget = check_budget(engine, budget)
    k = budget * engine.spec.d_model
    secret, text = secret_tokens(engine, secrets), text_tokens(engine, clean)
    weights = {layer: engine.W_out(layer).clone() for layer in range(engine.spec.n_layers)}
    grads = weight_grads(engine, secret)
    gen = torch.Generator().manual_seed(seed)
    # log |W * dL/dW|, standardised: heavy-tailed effects on a unit scale, so Adam's steps can reorder the top
    first = {layer: torch.log((w * grads[layer]).abs() + 1e-12) for layer, w in weights.items()}
    flat = torch.cat([f.flatten() for f in first.values()])
    mean, std = float(flat.mean()), float(flat.std()) or 1.0
    scores = {layer: ((f - mean) / std + 1e-3 * torch.rand(f.shape, generator=gen)).requires_grad_(True)
              for layer, f in first.items()}
    opt = torch.optim.Adam(list(scores.values()), lr=lr)
    history = []
    for _ in range(steps + 1):
        hard = _top_k(scores, k)
        deltas = {layer: -(hard[layer] + s - s.detach()) * weights[layer] for layer, s in scores.items()}
        loss, s_loss, c_loss = _objective(engine, secret, text, deltas)
        history.append((s_loss, c_loss))
        if len(history) > steps:
            break
        grads_s = torch.autograd.grad(loss, list(scores.values()))
        for param, g in zip(scores.values(), grads_s):
            param.grad = g
        opt.step()
    hard = _top_k(scores, k)
    masks = {layer: m.numpy().astype(bool) for layer, m in hard.items() if m.any()}
    return Located("mask", masks), _trained(engine, secret, text, history)


def _top_k(scores: dict[int, torch.Tensor], k: int) -> dict[int, torch.Tensor]:
    """``{layer: 0/1 tensor}`` marking the ``k`` highest scores over all layers together."""
    flat = torch.cat([s.detach().flatten() for s in scores.values()])
    chosen = torch.zeros_like(flat)
    chosen[torch.topk(flat, k).indices] = 1.0
    out, at = {}, 0
    for layer, s in scores.items():
        out[layer] = chosen[at:at + s.numel()].view_as(s)
        at += s.numel()
    return out


def _trained(engine: Engine, secret: Tokens, clean: Tokens, history: list[tuple[float, float]]) -> Trained:
    before_s, before_c = float(mean_loss(engine, secret)), float(mean_loss(engine, clean))
    return Trained(before_s, history[-1][0], before_c, history[-1][1])


def finetune(engine: Engine, secrets: Sequence[SecretPrompt], clean: Sequence[str], layers: Sequence[int] | None = None,
             steps: int = TUNE_STEPS, lr: float = TUNE_LR) -> tuple[dict[int, torch.Tensor], Trained]:
    """Dense ``{layer: (d_mlp, d_model)}`` changes of ``W_out`` (``layers``, default all) trained by the objective."""
    _check(secrets, clean, steps)
    layers = list(range(engine.spec.n_layers)) if layers is None else [engine.check_layer(x) for x in layers]
    secret, text = secret_tokens(engine, secrets), text_tokens(engine, clean)
    deltas = {layer: torch.zeros(engine.spec.d_mlp, engine.spec.d_model, requires_grad=True) for layer in layers}
    opt = torch.optim.Adam(list(deltas.values()), lr=lr)
    history = []
    for step in range(steps + 1):
        loss, s_loss, c_loss = _objective(engine, secret, text, deltas)
        history.append((s_loss, c_loss))
        if step == steps:
            break
        for param, g in zip(deltas.values(), torch.autograd.grad(loss, list(deltas.values()))):
            param.grad = g
        opt.step()
    return {layer: d.detach() for layer, d in deltas.items()}, _trained(engine, secret, text, history)


def random_mask(engine: Engine, budget: int, seed: int = 0) -> Located:
    """``budget * d_model`` single ``W_out`` weights drawn uniformly over all layers (the mask's control)."""
    budget = check_budget(engine, budget)
    n_layers, d_mlp, d_model = engine.spec.n_layers, engine.spec.d_mlp, engine.spec.d_model
    flat = np.zeros(n_layers * d_mlp * d_model, dtype=bool)
    flat[np.random.default_rng(seed).choice(flat.size, size=budget * d_model, replace=False)] = True
    cube = flat.reshape(n_layers, d_mlp, d_model)
    return Located("random-mask", {layer: cube[layer] for layer in range(n_layers) if cube[layer].any()})


METHODS = ("attribution", "activation", "gradient", "mask", "finetune", "random", "random-mask")
LOCALIZERS = ("attribution", "activation", "gradient", "mask", "random", "random-mask")
TEXT = {**METHOD_TEXT, "finetune": "fine-tuning W_out: gradient ascent on the secret, descent on clean text"}


@dataclass(frozen=True)
class UnlearnSpec:
    """``method`` (see :data:`METHODS`) with its size: ``budget`` units (a mask: as many weights as ``budget`` rows);
    ``steps`` for trained methods (0: the method's default); ``layer`` for finetune (None: every layer)."""

    method: str
    budget: int = 16
    steps: int = 0
    layer: int | None = None
    seed: int = 0


@dataclass(frozen=True, eq=False)
class Unlearning:
    """The deltas that unlearn, and what made them: ``located`` (localizers) or ``trained`` (losses, trained methods)."""

    spec: UnlearnSpec
    deltas: tuple[WeightDelta, ...]
    located: Located | None = None
    trained: Trained | None = None


def check_spec(engine: Engine, spec: UnlearnSpec) -> None:
    """UnlearnError for an unknown method, a budget out of range, or a layer the model lacks."""
    if spec.method not in METHODS:
        raise UnlearnError(f"unknown method {spec.method!r}; use one of {', '.join(METHODS)}")
    check_budget(engine, spec.budget)
    if not 0 <= spec.steps <= 10_000:
        raise UnlearnError(f"steps must be from 0 (the default) to 10000, got {spec.steps}")
    if spec.layer is not None and not 0 <= spec.layer < engine.spec.n_layers:
        raise UnlearnError(f"layer {spec.layer} does not exist; this model has layers 0-{engine.spec.n_layers - 1}")


def localize(engine: Engine, world: World, secrets: Sequence[SecretPrompt], spec: UnlearnSpec) -> tuple[Located, Trained | None]:
    """Where ``spec.method`` says the secrets live (a localizer; finetune localizes nothing)."""
    check_spec(engine, spec)
    if spec.method == "finetune":
        raise UnlearnError("finetune does not localize; use apply, or one of " + ", ".join(LOCALIZERS))
    if spec.method in UNIT_METHODS:
        return localize_units(engine, spec.method, secrets, spec.budget, world.facts, world.clean.retain,
                              spec.seed), None
    if spec.method == "random-mask":
        return random_mask(engine, spec.budget, spec.seed), None
    return learn_mask(engine, secrets, world.clean.retain, spec.budget, spec.steps or MASK_STEPS, seed=spec.seed)


def unlearn(engine: Engine, world: World, secrets: Sequence[SecretPrompt], spec: UnlearnSpec) -> Unlearning:
    """The per-run weight deltas of ``spec`` for ``secrets``."""
    check_spec(engine, spec)
    if spec.method == "finetune":
        layers = None if spec.layer is None else [spec.layer]
        changes, trained = finetune(engine, secrets, world.clean.retain, layers, spec.steps or TUNE_STEPS)
        return Unlearning(spec, dense_deltas(changes), trained=trained)
    located, trained = localize(engine, world, secrets, spec)
    return Unlearning(spec, removal_deltas(engine, located), located, trained)
