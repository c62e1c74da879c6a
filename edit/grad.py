"""Training an edit by gradient: Adam on the edit's own parameters through the engine's
differentiable run from one layer's MLP output (``Engine.mlp_change_logits``).

An edit of block ``layer``'s ``W_out`` changes only that block's MLP output, so each step
builds that change from the parameters and asks the engine for the last position's logits.
Gradients are taken with ``torch.autograd.grad`` for the edit's parameters only, so nothing is
ever written to the shared model (not even ``.grad``).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from engine import Engine

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
