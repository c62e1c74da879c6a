"""Held-out evaluation: KL(final || lens) per layer for the logit lens and any trained lenses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from engine.engine import Engine
from lens.base import Lens
from lens.capture import capture_batch
from lens.data import eval_batches, pad_id, tokenize
from lens.decode import logit_lens
from lens.objective import kl_per_head, layer_kl

RESID_NAME = "logit lens (resid_post)"


@dataclass(frozen=True, eq=False)
class EvalResult:
    """Mean KL(final || lens) in nats over every real position of the held-out texts.

    kl_heads: ``(n_lenses, n_layers, n_heads)`` per lens in ``names`` (head-write lenses).
    kl:       ``(n_lenses, n_layers)`` its mean over heads.
    resid_kl: ``(n_layers,)`` the logit lens on the residual stream after each layer.
    """

    layers: tuple[int, ...]
    names: tuple[str, ...]
    kl_heads: np.ndarray
    resid_kl: np.ndarray
    n_texts: int
    n_tokens: int

    @property
    def kl(self) -> np.ndarray:
        return self.kl_heads.mean(-1)

    def row(self, name: str) -> np.ndarray:
        """``(n_layers,)`` KL of the lens called ``name`` (or of :data:`RESID_NAME`)."""
        return self.resid_kl if name == RESID_NAME else self.kl[self.names.index(name)]


def evaluate_lenses(engine: Engine, texts: Sequence[str], lenses: Sequence[Lens] = (), layers: Sequence[int] | None = None,
                    batch_size: int = 32, max_len: int = 64) -> EvalResult:
    """KL of the logit lens (on head writes and on resid_post) and of ``lenses`` on ``texts``.

    ``layers`` defaults to every layer all ``lenses`` cover. ``texts`` should be held out
    from training (see ``lens.data.split_holdout``).
    """
    all_lenses = [logit_lens(engine), *lenses]
    if layers is None:
        layers = sorted(set.intersection(*(set(lens.layers) for lens in all_lenses)))
    layers = tuple(layers)
    for lens in all_lenses:
        for layer in layers:
            lens.check_layer(layer)
    n_heads = engine.spec.n_heads
    total = torch.zeros(len(all_lenses), len(layers), n_heads)
    resid = torch.zeros(len(layers))
    seqs = tokenize(engine, texts, max_len)
    n_tokens = 0
    for batch in eval_batches(seqs, batch_size, pad_id(engine)):
        acts = capture_batch(engine, batch, layers)
        with torch.no_grad():
            for i, lens in enumerate(all_lenses):
                for j, layer in enumerate(layers):
                    kl = layer_kl(lambda x, heads, lens=lens, layer=layer: lens.head_logits(layer, x, heads),
                                  acts.head_writes[layer], acts.log_probs, n_heads)
                    total[i, j] += kl * batch.n_real
            for j, layer in enumerate(layers):
                logits = all_lenses[0].unembed(acts.resid_post[layer])[:, None]
                resid[j] += kl_per_head(logits, acts.log_probs)[0][0] * batch.n_real
        n_tokens += batch.n_real
    scale = 1.0 / max(n_tokens, 1)
    names = ("logit lens (head writes)", *(lens.name for lens in lenses))
    return EvalResult(layers=layers, names=names, kl_heads=(total * scale).numpy(),
                      resid_kl=(resid * scale).numpy(), n_texts=len(seqs), n_tokens=n_tokens)


def evaluate_lenses_on(pool, texts: Sequence[str], folders: Sequence[str], batch_size: int = 32) -> EvalResult:
    """:func:`evaluate_lenses` with ``texts`` split over a pool of engines (``ray_sweeps.EnginePool``), each
    worker loading the lenses in ``folders``; the KLs are combined weighted by each part's tokens."""
    size = -(-len(texts) // max(1, len(pool.actors)))
    parts = [list(texts[i:i + size]) for i in range(0, len(texts), size)]
    results = [r for _, r in pool.map(_evaluate_part, parts, list(folders), batch_size)]
    weights = np.array([r.n_tokens for r in results], dtype=np.float64)
    total = max(weights.sum(), 1.0)
    return EvalResult(
        layers=results[0].layers, names=results[0].names,
        kl_heads=sum(w * r.kl_heads for w, r in zip(weights, results)) / total,
        resid_kl=sum(w * r.resid_kl for w, r in zip(weights, results)) / total,
        n_texts=sum(r.n_texts for r in results), n_tokens=int(weights.sum()))


def _evaluate_part(engine, texts: list[str], folders: list[str], batch_size: int) -> EvalResult:
    """The task a pool worker runs: load the lenses, evaluate its part of the texts."""
    from pathlib import Path

    from lens.decode import load_lenses

    return evaluate_lenses(engine, texts, [load_lenses(Path(f), engine) for f in folders], batch_size=batch_size)
