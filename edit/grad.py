"""Differentiable runs for training an edit: from one layer's MLP output to the last position's logits.

An edit of block ``layer``'s ``W_out`` changes only that block's MLP output, so a training
step restarts from the clean trace's resid_post of ``layer`` plus the change and reruns the
later blocks with gradients. Gradients are taken with ``torch.autograd.grad`` for the edit's
own parameters only, so nothing is ever written to the shared model (not even ``.grad``).
Each step holds the engine's lock: other sessions' hooks are never installed while it runs.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

Change = Callable[[], torch.Tensor]


def last_logits_with_change(engine, trace, layer: int, change: torch.Tensor) -> torch.Tensor:
    """``(d_vocab,)`` last-position logits with ``change`` ``(pos, d_model)`` added to block ``layer``'s MLP output."""
    adapter = engine.adapter
    h = (trace.resid[layer + 1] + change).unsqueeze(0)
    with engine.lock:
        frame = adapter.frame(0, trace.n_pos)
        for later in range(layer + 1, adapter.n_layers):
            h = adapter.block(later, h, frame)
        return adapter.unembed(h[0, -1])


def train_change(engine, trace, layer: int, target: int, params: Sequence[torch.Tensor], change: Change,
                 steps: int, lr: float, target_p: float | None, decay: float) -> tuple[int, float]:
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
            logp = torch.log_softmax(last_logits_with_change(engine, trace, layer, diff).float(), dim=-1)[target]
            p = float(logp.detach().exp())
            if step == steps or (target_p is not None and p >= target_p):
                return step, p
            loss = -logp + decay * diff.square().sum() / diff.shape[0]
            grads = torch.autograd.grad(loss, list(params))
        for param, grad in zip(params, grads):
            param.grad = grad
        opt.step()
    return steps, p
