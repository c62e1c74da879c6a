"""Per-example gradients on a private copy of the model: of a sentence's log-likelihood, and of a probe's margin.

The shared model is never touched: :class:`GradModel` deep-copies it to the CPU in float32 with gradients on,
and gradients come from ``torch.autograd.grad`` (nothing is written into ``.grad``).
"""

from __future__ import annotations

from typing import Sequence

import torch

from engine import Engine
from engine.adapter import Adapter
from probe.fit import FittedProbe
from probe.sites import EMBED, Site


def upstream_params(adapter: Adapter, site: Site | None) -> list[torch.nn.Parameter]:
    """The weights a probe at ``site`` can depend on: the token embeddings and the blocks up to its layer (every
    weight when ``site`` is None). Weights downstream of the site cannot move the probe's margin, so their part of
    a training gradient only adds noise to the projected inner products. Learned position embeddings are left out:
    every sentence read alone starts at position 0, so their gradient is a direction all sentences share."""
    if site is None:
        return list(adapter.model.parameters())
    keep = [adapter.embed_tokens] + adapter.blocks[: site.layer + 1]
    seen, params = set(), []
    for module in keep:
        for p in module.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                params.append(p)
    return params


class GradModel:
    """A float32 CPU copy of ``engine``'s model; gradients are taken in the weights upstream of ``site``
    (see :func:`upstream_params`), tied ones once."""

    def __init__(self, engine: Engine, site: Site | None = None) -> None:
        self.model = engine.training_copy()
        self.adapter = Adapter(self.model)
        self.params = upstream_params(self.adapter, site)
        self.n_params = sum(p.numel() for p in self.params)

    def _flat(self, out: torch.Tensor) -> torch.Tensor:
        grads = torch.autograd.grad(out, self.params, materialize_grads=True)
        return torch.cat([g.reshape(-1) for g in grads])

    def loglik_grad(self, ids: Sequence[int]) -> torch.Tensor:
        """``(n_params,)`` gradient of the mean next-token log-likelihood of ``ids`` (at least 2 tokens):
        the direction a training step on this sentence moves the weights (times the learning rate)."""
        x = torch.tensor([list(ids)])
        loss = self.model(input_ids=x, labels=x).loss
        return self._flat(-loss)

    def representation(self, ids: Sequence[int], kind: str, layer: int) -> torch.Tensor:
        """``(d_model,)`` the last token's activation at the probe's site, differentiable in the weights."""
        a = self.adapter
        x = torch.tensor([list(ids)])
        h = a.embed(x)
        if kind == "resid" and layer == EMBED:
            return h[0, -1]
        frame = a.frame(0, x.shape[1])
        for block in range(layer):
            h = a.block(block, h, frame)
        out = a.block(layer, h, frame)
        if kind == "resid":
            return out[0, -1]
        attn = a.attend(layer, h, frame)
        attn = attn[0] if isinstance(attn, tuple) else attn
        return (out - h - attn)[0, -1]  # mlp_out: resid_post = resid_pre + attn_out + mlp_out (also in parallel blocks)

    def margin(self, probe: FittedProbe, ids: Sequence[int], label: int) -> torch.Tensor:
        """The probe's margin for class ``label`` on ``ids``: its logit minus the log-sum-exp of the others'."""
        h = self.representation(ids, probe.site.kind, probe.site.layer)
        mean, scale = torch.as_tensor(probe.mean, dtype=torch.float32), torch.as_tensor(probe.scale, dtype=torch.float32)
        W, b = torch.as_tensor(probe.W, dtype=torch.float32), torch.as_tensor(probe.b, dtype=torch.float32)
        logits = W @ ((h - mean) / scale) + b
        others = torch.cat([logits[:label], logits[label + 1:]])
        return logits[label] - torch.logsumexp(others, dim=0)

    def margin_grad(self, probe: FittedProbe, ids: Sequence[int], label: int) -> torch.Tensor:
        """``(n_params,)`` gradient of :meth:`margin` in the weights."""
        return self._flat(self.margin(probe, ids, label))
