"""Localize a secret: the losses every localizer reads, the unit rankings, and what any localizer returns.

What a localizer returns, whatever its method (a :class:`Located`): a mask over the MLP output weights ``W_out``,
per layer. A set of units is a mask of whole rows (a unit's every output weight); a learned mask picks single
weights. Either becomes per-run :class:`WeightDelta` s that remove the masked weights,
``W_out -> W_out - mask * W_out``, so the shared model is never touched.

The two losses every localizer and trainer reads: the secrets' and clean text's next-token loss,
under dense ``W_out`` changes ``{layer: (d_mlp, d_model)}`` (see ``Engine.token_logprobs``).

The unit methods rank MLP units by how much they carry a secret, and keep the top ``budget``.

Every method reads the secrets (their continuation's tokens given the prefix) against clean
text, so units that carry everything (the facts too) rank low:

- attribution: activation x gradient of the continuation's token log-probabilities (``Engine.attribute``,
  every position, as the clusters' attribution), mean per secret token, minus the same on clean facts;
- activation: mean |activation| over the secret's positions divided by that over clean documents;
- gradient: the L1 norm of a unit's ``W_out`` row gradient of the secret loss over the same on clean text;
- random: ``budget`` units drawn uniformly (the control).

The learned mask (``unlearn.methods.learn_mask``) returns the same kind of result over single weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from engine import Engine, WeightDelta
from promptsets.schema import FactPrompt, SecretPrompt
from unlearn.data import UnlearnError
from unlearn.scores import secret_sequence

UNIT_METHODS = ("attribution", "activation", "gradient", "random")
MASK_METHODS = ("mask", "random-mask")
METHOD_TEXT = {
    "attribution": "activation x gradient of the secret's token log-likelihood, minus the same on clean facts",
    "activation": "mean |activation| on the secret over mean |activation| on clean text",
    "gradient": "|d secret loss / d W_out| of a unit's row over the same on clean text",
    "random": "random units (control)",
    "mask": "a learned top-k mask over single W_out weights (straight-through), trained to raise the secret's "
            "loss and keep the clean loss",
    "random-mask": "random single weights (control)",
}


@dataclass(frozen=True, eq=False)
class Located:
    """``masks``: ``{layer: (d_mlp, d_model) bool}`` of the ``W_out`` weights to remove; ``scores`` the ranked units'
    scores (units methods) in ``units`` order."""

    method: str
    masks: dict[int, np.ndarray] = field(repr=False)
    units: tuple[tuple[int, int], ...] = ()
    scores: tuple[float, ...] = ()

    @property
    def n_weights(self) -> int:
        return int(sum(m.sum() for m in self.masks.values()))

    @property
    def whole_units(self) -> bool:
        return self.method in UNIT_METHODS


def from_units(method: str, units: list[tuple[int, int]], scores: list[float], d_mlp: int, d_model: int) -> Located:
    """A :class:`Located` of whole rows for ``units`` (layer, unit)."""
    masks: dict[int, np.ndarray] = {}
    for layer, unit in units:
        masks.setdefault(layer, np.zeros((d_mlp, d_model), dtype=bool))[unit] = True
    return Located(method, dict(sorted(masks.items())), tuple(units), tuple(float(s) for s in scores))


def removal_deltas(engine: Engine, located: Located) -> tuple[WeightDelta, ...]:
    """One WeightDelta per layer that subtracts the masked weights of ``W_out`` (exactly: rows for whole units)."""
    out = []
    for layer, mask in located.masks.items():
        w = engine.W_out(layer)
        rows = np.flatnonzero(mask.any(axis=1))
        if not rows.size:
            continue
        left = torch.zeros(w.shape[0], rows.size)
        left[torch.as_tensor(rows), torch.arange(rows.size)] = 1.0
        right = -(w[torch.as_tensor(rows)] * torch.as_tensor(mask[rows], dtype=w.dtype))
        out.append(WeightDelta.from_factors(layer, left, right))
    return tuple(out)


def dense_deltas(deltas: dict[int, torch.Tensor]) -> tuple[WeightDelta, ...]:
    """WeightDeltas of dense ``{layer: (d_mlp, d_model)}`` changes, exactly (rank d_model: change @ identity)."""
    return tuple(WeightDelta.from_factors(layer, d.detach(), torch.eye(d.shape[1]))
                 for layer, d in sorted(deltas.items()))


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


EPS = 1e-2  # of the clean mean: a unit silent on clean text must still outscore noise, not divide by zero
BATCH = 32
N_CLEAN_FACTS = 64


def check_budget(engine: Engine, budget: int) -> int:
    """``budget`` as an int; UnlearnError unless 1 <= budget <= the model's number of MLP units."""
    total = engine.spec.n_layers * engine.spec.d_mlp
    if isinstance(budget, bool) or int(budget) != budget or not 1 <= int(budget) <= total:
        raise UnlearnError(f"budget {budget!r} is out of range; give a whole number of units from 1 to {total} "
                           f"({engine.spec.n_layers} layers x {engine.spec.d_mlp} units)")
    return int(budget)


def top_units(scores: np.ndarray, budget: int) -> tuple[list[tuple[int, int]], list[float]]:
    """The ``budget`` highest of ``(n_layers, d_mlp)`` scores as (layer, unit) pairs, best first."""
    flat = np.argsort(-scores, axis=None, kind="stable")[:budget]
    d_mlp = scores.shape[1]
    return [(int(i // d_mlp), int(i % d_mlp)) for i in flat], [float(scores.flat[i]) for i in flat]


def _attributions(engine: Engine, seqs: list[list[int]], targets: list[int]) -> np.ndarray:
    """``(n_layers, d_mlp)`` mean attribution of the target log-probabilities, in batches."""
    total = torch.zeros(engine.spec.n_layers, engine.spec.d_mlp)
    for i in range(0, len(seqs), BATCH):
        out = engine.attribute(seqs[i:i + BATCH], targets[i:i + BATCH], "mlp_post", "logprob", positions="all")
        total += out.sum(dim=0)
    return (total / max(len(seqs), 1)).numpy()


def attribution_scores(engine: Engine, secrets: Sequence[SecretPrompt], facts: Sequence[FactPrompt]) -> np.ndarray:
    """``(n_layers, d_mlp)`` secret attribution minus clean-fact attribution (see the module)."""
    seqs, targets = [], []
    for secret in secrets:
        ids, n_prefix = secret_sequence(engine, secret)
        for t in range(n_prefix, len(ids)):
            seqs.append(ids[:t])
            targets.append(ids[t])
    score = _attributions(engine, seqs, targets)
    clean = list(facts)[:N_CLEAN_FACTS]
    if clean:
        cseqs = [engine.encode(f.prompt) for f in clean]
        ctargets = [engine.token_id(f.answer, first=True, prompt=f.prompt) for f in clean]
        score = score - _attributions(engine, cseqs, ctargets)
    return score


def _mean_abs(engine: Engine, seqs: Sequence[Sequence[int]], weight: torch.Tensor) -> np.ndarray:
    """``(n_layers, d_mlp)`` mean |mlp_post| over the positions ``weight`` ``(n, max_len - 1)`` marks as predicting."""
    n_layers, d_mlp = engine.spec.n_layers, engine.spec.d_mlp
    total, count = torch.zeros(n_layers, d_mlp), 0.0
    for i in range(0, len(seqs), BATCH):
        chunk = [list(s) for s in seqs[i:i + BATCH]]
        cap = engine.capture(chunk, sites=("mlp_post",))
        # a sequence's last position predicts nothing: it never counts
        keep = torch.cat([torch.cat([(weight[i + r, :len(s) - 1] > 0).float(), torch.zeros(1)])
                          for r, s in enumerate(chunk)])
        for layer in range(n_layers):
            total[layer] += (cap.at("mlp_post", layer).abs() * keep[:, None]).sum(dim=0)
        count += float(keep.sum())
    return (total / max(count, 1.0)).numpy()


def activation_scores(engine: Engine, secrets: Sequence[SecretPrompt], clean: Sequence[str]) -> np.ndarray:
    """``(n_layers, d_mlp)`` secret |activation| over clean |activation| (see the module)."""
    s, c = secret_tokens(engine, secrets), text_tokens(engine, clean)
    on_secret, on_clean = _mean_abs(engine, s.seqs, s.weight), _mean_abs(engine, c.seqs, c.weight)
    return on_secret / (on_clean + EPS * on_clean.mean())


def gradient_scores(engine: Engine, secrets: Sequence[SecretPrompt], clean: Sequence[str]) -> np.ndarray:
    """``(n_layers, d_mlp)`` L1 row norms of the secret loss's ``W_out`` gradient over the clean loss's."""
    gs = weight_grads(engine, secret_tokens(engine, secrets))
    gc = weight_grads(engine, text_tokens(engine, clean))
    on_secret = torch.stack([gs[layer].abs().sum(dim=1) for layer in sorted(gs)]).numpy()
    on_clean = torch.stack([gc[layer].abs().sum(dim=1) for layer in sorted(gc)]).numpy()
    return on_secret / (on_clean + EPS * on_clean.mean())


def random_scores(engine: Engine, seed: int) -> np.ndarray:
    """``(n_layers, d_mlp)`` uniform random scores (the top ``budget`` are a uniform random set)."""
    return np.random.default_rng(seed).random((engine.spec.n_layers, engine.spec.d_mlp))


Scorer = Callable[[Engine, Sequence[SecretPrompt], Sequence[FactPrompt], Sequence[str], int], np.ndarray]
SCORERS: dict[str, Scorer] = {
    "attribution": lambda e, s, f, c, seed: attribution_scores(e, s, f),
    "activation": lambda e, s, f, c, seed: activation_scores(e, s, c),
    "gradient": lambda e, s, f, c, seed: gradient_scores(e, s, c),
    "random": lambda e, s, f, c, seed: random_scores(e, seed),
}


def localize_units(engine: Engine, method: str, secrets: Sequence[SecretPrompt], budget: int,
                   facts: Sequence[FactPrompt] = (), clean: Sequence[str] = (), seed: int = 0) -> Located:
    """The ``budget`` units ``method`` ranks highest for ``secrets`` (see the module), as whole-row masks."""
    if method not in SCORERS:
        raise UnlearnError(f"unknown unit method {method!r}; use one of {', '.join(SCORERS)}")
    if not secrets:
        raise UnlearnError("no secrets to localize; pick at least one")
    if method in ("activation", "gradient") and not clean:
        raise UnlearnError(f"method {method} needs clean text to compare with; give --clean FILE")
    budget = check_budget(engine, budget)
    units, scores = top_units(SCORERS[method](engine, secrets, facts, clean, seed), budget)
    return from_units(method, units, scores, engine.spec.d_mlp, engine.spec.d_model)
