"""Next-token log-probabilities of whole sequences with MLP output weights changed, differentiable in the change.

Unlearning methods train or score changes of ``W_out`` on the loss of every token of a
sequence (a planted secret, a clean document), not on one last position. Each changed
layer's MLP output projection gets a forward hook that adds ``mlp_post @ delta``: what the
projection computes with ``W_out + delta``. The shared weights are never written, hooks are
removed on exit (also on error), and gradients reach only the deltas (take them with
``torch.autograd.grad``: ``backward()`` would write ``.grad`` into the shared model).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Mapping

import torch
from torch import Tensor

from engine.adapter import Adapter
from engine.capture import Batch
from engine.frame import Frame


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
