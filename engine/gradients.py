"""Gradients through the shared model without writing it: attribution patching and weight-change log-probs.

Activation x gradient of a target logit at every MLP unit: attribution patching, in one forward and backward.

A zero tensor that requires grad is added to each layer's site, so the gradient reaching it is
the gradient with respect to that activation along every later path, even when the model's
own weights do not require grad; no parameter gradient is kept. Hooks are removed on exit,
also on error.

Options, each a standard variant of the method:

- ``against``: per sequence, tokens whose mean logit is subtracted from the target's (a logit
  difference), so a unit that lifts the target and its rivals alike counts zero;
- ``positions``: "last" is the effect of zeroing a unit at the last position only; "all" sums
  over every real position, the effect of zeroing it everywhere (as an impairment at all
  positions does);
- ``zeroed``: units held at zero at every position during the pass, so attributions are those
  of the model with them ablated (to grow a cluster in rounds, each round seeing what the
  units chosen before it leave).

Next-token log-probabilities of whole sequences with MLP output weights changed, differentiable in the change.

Unlearning methods train or score changes of ``W_out`` on the loss of every token of a
sequence (a planted secret, a clean document), not on one last position. Each changed
layer's MLP output projection gets a forward hook that adds ``mlp_post @ delta``: what the
projection computes with ``W_out + delta``. The shared weights are never written, hooks are
removed on exit (also on error), and gradients reach only the deltas (take them with
``torch.autograd.grad``: ``backward()`` would write ``.grad`` into the shared model).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Literal, Mapping, Sequence

import torch
from torch import Tensor

from engine.adapter import Adapter, Frame
from engine.errors import InterventionError, OutOfRangeError
from engine.trace import Batch


AttributionSite = Literal["mlp_post", "mlp_in", "mlp_out"]
Objective = Literal["logit", "logprob"]
Zeroed = Mapping[int, Sequence[int]]


def check_attribution(site: str, objective: str, n_targets: int, n_seqs: int, positions: str = "last",
                      against: Sequence[Sequence[int]] | None = None) -> None:
    """InterventionError for a site, objective or positions that cannot be attributed, or not one target
    (and one non-empty rival list, if given) per sequence."""
    if site not in ("mlp_post", "mlp_in", "mlp_out") or objective not in ("logit", "logprob"):
        raise InterventionError(f"cannot attribute site {site!r} with objective {objective!r}; use site "
                                "mlp_post, mlp_in or mlp_out and objective logit or logprob")
    if positions not in ("last", "all"):
        raise InterventionError(f"attribution positions must be 'last' or 'all', got {positions!r}")
    if n_targets != n_seqs:
        raise InterventionError(f"{n_targets} targets for {n_seqs} sequences; give one target per sequence")
    if against is not None and (len(against) != n_seqs or any(len(a) == 0 for a in against)):
        raise InterventionError(f"give one non-empty list of rival tokens per sequence ({n_seqs}); "
                                f"got {len(against)} lists")


def zero_masks(zeroed: Zeroed | None, n_layers: int, site: str, d_mlp: int, d_model: int) -> dict[int, Tensor]:
    """``{layer: (width,) keep mask}`` for ``zeroed`` units of ``site``; OutOfRangeError naming a layer or unit the site lacks."""
    width = d_mlp if site == "mlp_post" else d_model
    masks = {}
    for layer, units in (zeroed or {}).items():
        if not 0 <= int(layer) < n_layers:
            raise OutOfRangeError(f"cannot zero units of layer {layer}: the model has layers 0-{n_layers - 1}")
        bad = [u for u in units if not 0 <= int(u) < width]
        if bad:
            raise OutOfRangeError(f"cannot zero units {bad[:5]} of layer {layer}: the site has units 0-{width - 1}")
        keep = torch.ones(width)
        keep[list(map(int, units))] = 0.0
        masks[int(layer)] = keep
    return masks


@contextmanager
def _probes(adapter: Adapter, site: str, probes: dict[int, tuple[Tensor, Tensor]],
            keep: Mapping[int, Tensor]) -> Iterator[None]:
    """Record each layer's ``site`` value (``keep``-masked) and the zero added to it, for the length of the block."""
    handles = []

    def probe(layer: int, x: Tensor) -> Tensor:
        if layer in keep:
            x = x * keep[layer].to(x.device, x.dtype)
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


def _rival_mean(logits: Tensor, against: Sequence[Sequence[int]]) -> Tensor:
    """``(batch,)`` each row's mean logit over its ``against`` tokens."""
    width = max(len(a) for a in against)
    ids = torch.zeros(len(against), width, dtype=torch.long, device=logits.device)
    weight = torch.zeros(len(against), width, dtype=logits.dtype, device=logits.device)
    for row, tokens in enumerate(against):
        ids[row, :len(tokens)] = torch.tensor(list(tokens), dtype=torch.long)
        weight[row, :len(tokens)] = 1.0 / len(tokens)
    return (logits.gather(1, ids) * weight).sum(dim=1)


def attribute_batch(adapter: Adapter, batch: Batch, targets: Tensor, site: str, objective: str, *,
                    against: Sequence[Sequence[int]] | None = None, positions: str = "last",
                    keep: Mapping[int, Tensor] | None = None) -> Tensor:
    """``(batch, n_layers, width)`` activation x gradient of each row's ``targets`` token at its last real position.

    ``objective`` "logit" differentiates the target's logit, "logprob" its log-probability; see the
    module for ``against`` and ``positions``; ``keep``: :func:`zero_masks` of the units to hold at
    zero. The caller holds the engine lock.
    """
    rows = torch.arange(batch.ids.shape[0], device=batch.ids.device)
    last = batch.lengths - 1
    probes: dict[int, tuple[Tensor, Tensor]] = {}
    with torch.enable_grad(), _probes(adapter, site, probes, keep or {}):
        frame = Frame(0, batch.ids.shape[1], adapter.device, adapter.dtype)
        h = adapter.embed(batch.ids)
        for layer in range(adapter.n_layers):
            h = adapter.block(layer, h, frame)
        logits = adapter.unembed(h[rows, last])
        if objective == "logprob":
            logits = torch.log_softmax(logits, dim=-1)
        value = logits[rows, targets] - (_rival_mean(logits, against) if against is not None else 0.0)
        grads = torch.autograd.grad(value.sum(), [probes[l][1] for l in range(adapter.n_layers)])
    if positions == "all":
        real = batch.mask.to(grads[0].dtype)[:, :, None]
        return torch.stack([(probes[l][0] * g * real).sum(dim=1) for l, g in enumerate(grads)], dim=1)
    return torch.stack([(probes[l][0] * g)[rows, last] for l, g in enumerate(grads)], dim=1)


@contextmanager
def _added(adapter: Adapter, deltas: Mapping[int, Tensor]) -> Iterator[None]:
    """Hooks adding ``mlp_post @ deltas[layer]`` to each listed layer's MLP output, for the block."""
    handles = []
    try:
        for layer, delta in deltas.items():
            d = delta.to(adapter.device, adapter.dtype)
            handles.append(adapter.mlp_o[layer].register_forward_hook(
                lambda module, args, out, d=d: out + args[0] @ d))
        yield
    finally:
        for handle in handles:
            handle.remove()


def token_logprobs(adapter: Adapter, batch: Batch, deltas: Mapping[int, Tensor]) -> Tensor:
    """``(batch, pos - 1)`` log p(token t+1 | tokens <= t) of right-padded rows (0 where t+1 is padding),
    with ``deltas[layer]`` ``(d_mlp, d_model)`` added to that layer's ``W_out``. The caller holds the lock."""
    ids = batch.ids.to(adapter.device)
    with _added(adapter, deltas):
        frame = Frame(0, ids.shape[1], adapter.device, adapter.dtype)
        h = adapter.embed(ids)
        for layer in range(adapter.n_layers):
            h = adapter.block(layer, h, frame)
        logp = torch.log_softmax(adapter.unembed(h[:, :-1]).float(), dim=-1)
    picked = logp.gather(2, ids[:, 1:, None]).squeeze(2)
    return picked * batch.mask[:, 1:].to(picked.device, picked.dtype)
