"""The two losses every localizer and trainer reads: the secrets' and clean text's next-token loss,
under dense ``W_out`` changes ``{layer: (d_mlp, d_model)}`` (see ``Engine.token_logprobs``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch

from engine import Engine
from promptsets.schema import SecretPrompt
from unlearn.extract import secret_sequence

Deltas = Mapping[int, torch.Tensor]


@dataclass(frozen=True, eq=False)
class Tokens:
    """Token sequences and ``(n, max_len - 1)`` weights of the next-token losses that count (1 / count each)."""

    seqs: tuple[tuple[int, ...], ...]
    weight: torch.Tensor


def secret_tokens(engine: Engine, secrets: Sequence[SecretPrompt]) -> Tokens:
    """The secrets as sequences; only the continuation's tokens count (the prefix is not the secret)."""
    pairs = [secret_sequence(engine, s) for s in secrets]
    width = max(len(ids) for ids, _ in pairs) - 1
    weight = torch.zeros(len(pairs), width)
    for row, (ids, n_prefix) in enumerate(pairs):
        weight[row, n_prefix - 1:len(ids) - 1] = 1.0
    return Tokens(tuple(tuple(ids) for ids, _ in pairs), weight / weight.sum())


def text_tokens(engine: Engine, texts: Sequence[str]) -> Tokens:
    """Documents as sequences (cut to the model's context); every next-token loss counts."""
    n_ctx = engine.spec.n_ctx
    seqs = [tuple(int(i) for i in engine.tokenizer.encode(t))[:n_ctx] for t in texts]
    seqs = [s for s in seqs if len(s) >= 2]
    width = max(len(s) for s in seqs) - 1
    weight = torch.zeros(len(seqs), width)
    for row, s in enumerate(seqs):
        weight[row, :len(s) - 1] = 1.0
    return Tokens(tuple(seqs), weight / weight.sum())


def mean_loss(engine: Engine, tokens: Tokens, deltas: Deltas | None = None, grad: bool = False) -> torch.Tensor:
    """Mean next-token loss (nats per counted token) of ``tokens`` under ``deltas``; differentiable with ``grad``."""
    logp = engine.token_logprobs(tokens.seqs, deltas, grad=grad)
    return -(logp * tokens.weight.to(logp.device)).sum()


def weight_grads(engine: Engine, tokens: Tokens) -> dict[int, torch.Tensor]:
    """``{layer: (d_mlp, d_model)}`` gradient of the mean loss of ``tokens`` with respect to each layer's ``W_out``."""
    zeros = {layer: torch.zeros(engine.spec.d_mlp, engine.spec.d_model, requires_grad=True)
             for layer in range(engine.spec.n_layers)}
    loss = mean_loss(engine, tokens, zeros, grad=True)
    grads = torch.autograd.grad(loss, list(zeros.values()))
    return dict(zip(zeros, grads))
