"""The editing methods, each returning a WeightDelta of one layer's W_out (never a changed model), with the
gradient training they share and the key statistics the rank-one edit reads.

rank_one:  ROME-style. key ``k`` = the neurons at the key position (the prompt's last token by
           default, or the subject's last token: see EditSpec.key); the value change
           ``d`` (``(d_model,)``, added to the MLP output there) is trained by gradient, then
           ``W_out += (C^-1 k / k^T C^-1 k) d^T`` with ``C`` the keys' second moment on a text
           sample (plus a small ridge), so ``k`` maps to its new value and other keys move least.
low_rank:  ``W_out += A @ B`` with ``A`` ``(d_mlp, r)``, ``B`` ``(r, d_model)`` trained directly
           (``B`` starts at zero, ``A`` small and random, seeded).
finetune:  ``W_out += D``, the whole matrix trained.
interp:    1-LI: the fine-tune run for the full step budget (no early stop), then
           ``W + alpha * (W_finetuned - W)``: the WeightDelta's scale is alpha.

Training is Adam on the edit's own parameters through the engine's differentiable run from one
layer's MLP output (``Engine.mlp_change_logits``): an edit of block ``layer``'s ``W_out`` changes only
that block's MLP output, so each step builds that change from the parameters and asks the engine for
the last position's logits. Gradients are taken with ``torch.autograd.grad`` for the edit's parameters
only, so nothing is ever written to the shared model (not even ``.grad``).

The rank-one edit's ``C`` is the uncentred second moment of one layer's MLP keys (the neurons,
mlp_post) over a text sample, computed once per (model, layer, texts).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from edit.spec import EditSpec, EditSpecError, Fact, answer_token_id, subject_last_position
from engine import Engine
from engine.interventions import WeightDelta


# Adam step sizes per parameterisation (their scales differ: a value vector, factors, a matrix).
LEARNING_RATES = {"rank_one": 0.5, "low_rank": 0.02, "finetune": 0.002, "interp": 0.002}
RIDGE = 1e-2  # times the mean diagonal of C, so C stays invertible on a small sample


@dataclass(frozen=True, eq=False)
class EditResult:
    """One applied edit: the delta to run with, the training steps it took and p(new) it reached."""

    fact: Fact
    spec: EditSpec
    delta: WeightDelta
    steps: int
    p_trained: float


def apply_edit(engine, fact: Fact, spec: EditSpec, key_texts: Sequence[str] = ()) -> EditResult:
    """Edit ``fact`` with ``spec`` on ``engine``'s model; the model itself is left as it was.

    ``key_texts``: text to measure the layer's keys on (rank-one only; the prompt is always added).
    """
    engine.check_layer(spec.layer, spec)
    if spec.layer == engine.spec.n_layers - 1 and spec.method == "rank_one" and spec.key == "subject":
        raise EditSpecError(f"a rank-one edit writes at the subject's token, which needs a later layer to carry it to "
                            f"the answer; choose a layer below {spec.layer}")
    trace = engine.trace(fact.prompt)
    target = answer_token_id(engine, fact.new, fact.prompt)
    lr = LEARNING_RATES[spec.method] if spec.lr is None else spec.lr
    gen = torch.Generator().manual_seed(0)
    keys = trace.neurons(spec.layer).detach()
    if spec.method == "rank_one":
        return _rank_one(engine, fact, spec, trace, target, lr, tuple(key_texts) + (fact.prompt,))
    if spec.method == "low_rank":
        a = (torch.randn(engine.spec.d_mlp, spec.rank, generator=gen) / engine.spec.d_mlp ** 0.5).requires_grad_()
        b = torch.zeros(spec.rank, engine.spec.d_model, requires_grad=True)
        steps, p = train_change(engine, fact.prompt, spec.layer, target, [a, b], lambda: keys @ a @ b,
                                spec.steps, lr, spec.target_p, spec.decay)
        return EditResult(fact, spec, WeightDelta.from_factors(spec.layer, a, b), steps, p)
    d = torch.zeros(engine.spec.d_mlp, engine.spec.d_model, requires_grad=True)
    target_p = None if spec.method == "interp" else spec.target_p
    steps, p = train_change(engine, fact.prompt, spec.layer, target, [d], lambda: keys @ d,
                            spec.steps, lr, target_p, spec.decay)
    scale = spec.alpha if spec.method == "interp" else 1.0
    eye = torch.eye(engine.spec.d_model)
    return EditResult(fact, spec, WeightDelta.from_factors(spec.layer, d, eye, scale=scale), steps, p)


def _rank_one(engine, fact: Fact, spec: EditSpec, trace, target: int, lr: float,
              texts: tuple[str, ...]) -> EditResult:
    """Train the value change at the subject's last token, then write it in closed form."""
    pos = trace.n_pos - 1 if spec.key == "last" else subject_last_position(engine, fact.prompt, fact.subject)
    value = torch.zeros(engine.spec.d_model, requires_grad=True)
    mask = torch.zeros(trace.n_pos, 1)
    mask[pos] = 1.0
    steps, p = train_change(engine, fact.prompt, spec.layer, target, [value], lambda: mask * value,
                            spec.steps, lr, spec.target_p, spec.decay)
    k = trace.neurons(spec.layer)[pos].double()
    c = key_second_moment(engine, spec.layer, texts).double()
    c = c + RIDGE * c.diagonal().mean() * torch.eye(c.shape[0], dtype=c.dtype)
    ck = torch.linalg.solve(c, k)
    u = (ck / (k @ ck)).float()
    return EditResult(fact, spec, WeightDelta.from_factors(spec.layer, u[:, None], value.detach()[None, :]), steps, p)


Change = Callable[[], torch.Tensor]


def train_change(engine: Engine, prompt: str, layer: int, target: int, params: Sequence[torch.Tensor],
                 change: Change, steps: int, lr: float, target_p: float | None, decay: float) -> tuple[int, float]:
    """Adam on ``params`` to raise p(``target``) at the last position; returns (steps taken, final p).

    ``change()`` builds the ``(pos, d_model)`` MLP-output change from ``params``. The loss is
    ``-log p(target) + decay * |change|^2 / pos``; training stops once p reaches ``target_p``
    (never, for None).
    """
    opt = torch.optim.Adam(params, lr=lr)
    p = 0.0
    for step in range(steps + 1):
        with torch.enable_grad():
            diff = change()
            logp = torch.log_softmax(engine.mlp_change_logits(prompt, layer, diff).float(), dim=-1)[target]
            p = float(logp.detach().exp())
            if step == steps or (target_p is not None and p >= target_p):
                return step, p
            loss = -logp + decay * diff.square().sum() / diff.shape[0]
            grads = torch.autograd.grad(loss, list(params))
        for param, grad in zip(params, grads):
            param.grad = grad
        opt.step()
    return steps, p


_CACHE: dict[tuple[str, int, str], torch.Tensor] = {}
_CACHE_MAX = 16


def key_second_moment(engine, layer: int, texts: Sequence[str]) -> torch.Tensor:
    """``(d_mlp, d_mlp)`` uncentred second moment ``E[k k^T]`` of block ``layer``'s neurons over every
    position of ``texts``; computed once per (model, layer, texts) and then reused (read-only)."""
    if not texts:
        raise EditSpecError("the rank-one edit needs some text to measure the layer's keys on; pass key texts")
    digest = hashlib.sha256("\x1e".join(texts).encode("utf-8")).hexdigest()
    key = (engine.spec.fingerprint, layer, digest)
    if key not in _CACHE:
        total, count = None, 0
        for text in texts:
            k = engine.trace(text).neurons(layer).double()
            total = k.T @ k if total is None else total + k.T @ k
            count += k.shape[0]
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = (total / count).float()
    return _CACHE[key]
