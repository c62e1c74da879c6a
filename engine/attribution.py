"""Activation x gradient of a target logit at every MLP unit: attribution patching, in one forward and backward.

A zero tensor that requires grad is added to each layer's site, so the gradient reaching it is
the gradient with respect to that activation along every later path, even when the model's
own weights do not require grad; no parameter gradient is kept. Hooks are removed on exit,
also on error.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Literal

import torch
from torch import Tensor

from engine.adapter import Adapter
from engine.capture import Batch
from engine.errors import InterventionError
from engine.frame import Frame

AttributionSite = Literal["mlp_post", "mlp_in", "mlp_out"]
Objective = Literal["logit", "logprob"]


def check_attribution(site: str, objective: str, n_targets: int, n_seqs: int) -> None:
    """InterventionError for a site or objective that cannot be attributed, or not one target per sequence."""
    if site not in ("mlp_post", "mlp_in", "mlp_out") or objective not in ("logit", "logprob"):
        raise InterventionError(f"cannot attribute site {site!r} with objective {objective!r}; use site "
                                "mlp_post, mlp_in or mlp_out and objective logit or logprob")
    if n_targets != n_seqs:
        raise InterventionError(f"{n_targets} targets for {n_seqs} sequences; give one target per sequence")


@contextmanager
def _probes(adapter: Adapter, site: str, probes: dict[int, tuple[Tensor, Tensor]]) -> Iterator[None]:
    """Record each layer's clean ``site`` value and the zero added to it, for the length of the block."""
    handles = []

    def probe(layer: int, x: Tensor) -> Tensor:
        delta = torch.zeros_like(x, requires_grad=True)
        probes[layer] = (x.detach(), delta)
        return x + delta

    try:
        for layer in range(adapter.n_layers):
            if site == "mlp_out":
                handles.append(adapter.mlp[layer].register_forward_hook(
                    lambda m, a, out, layer=layer: probe(layer, out)))
            else:
                module = adapter.mlp_o[layer] if site == "mlp_post" else adapter.mlp[layer]
                handles.append(module.register_forward_pre_hook(
                    lambda m, args, layer=layer: (probe(layer, args[0]), *args[1:])))
        yield
    finally:
        for handle in handles:
            handle.remove()


def attribute_batch(adapter: Adapter, batch: Batch, targets: Tensor, site: str, objective: str) -> Tensor:
    """``(batch, n_layers, width)`` activation x gradient of each row's ``targets`` token at its last real position.

    ``objective`` "logit" differentiates the target's logit, "logprob" its log-probability. The
    caller holds the engine lock.
    """
    rows = torch.arange(batch.ids.shape[0], device=batch.ids.device)
    last = batch.lengths - 1
    probes: dict[int, tuple[Tensor, Tensor]] = {}
    with torch.enable_grad(), _probes(adapter, site, probes):
        frame = Frame(0, batch.ids.shape[1], adapter.device, adapter.dtype)
        h = adapter.embed(batch.ids)
        for layer in range(adapter.n_layers):
            h = adapter.block(layer, h, frame)
        logits = adapter.unembed(h[rows, last])
        if objective == "logprob":
            logits = torch.log_softmax(logits, dim=-1)
        grads = torch.autograd.grad(logits[rows, targets].sum(), [probes[l][1] for l in range(adapter.n_layers)])
    return torch.stack([(probes[l][0] * g)[rows, last] for l, g in enumerate(grads)], dim=1)
