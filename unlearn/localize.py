"""Localize a secret: rank MLP units by how much they carry it, and keep the top ``budget`` (a :class:`Located`).

Every method reads the secrets (their continuation's tokens given the prefix) against clean
text, so units that carry everything (the facts too) rank low:

- attribution: activation x gradient of the continuation's token log-probabilities (``Engine.attribute``,
  every position, as the clusters' attribution), mean per secret token, minus the same on clean facts;
- activation: mean |activation| over the secret's positions divided by that over clean documents;
- gradient: the L1 norm of a unit's ``W_out`` row gradient of the secret loss over the same on clean text;
- random: ``budget`` units drawn uniformly (the control).

The learned mask (``unlearn.train.learn_mask``) returns the same kind of result over single weights.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from engine import Engine
from promptsets.schema import FactPrompt, SecretPrompt
from unlearn.errors import UnlearnError
from unlearn.extract import secret_sequence
from unlearn.located import Located, from_units
from unlearn.losses import secret_tokens, text_tokens, weight_grads

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
