"""How closely a lens reads the model's final distribution: the KL objective, held-out evaluation, baselines.

The objective is KL(final || lens) per head, averaged over real positions. Each head's lens is
trained on its own: its loss is the KL from the model's final next-token distribution to what
that head's lens reads off that head's write alone. The original Attention Lens instead sums
all heads' lens outputs of a layer and trains that sum at the last position only. Per-head
training gives each lens a meaning of its own (what this head alone says about the next token),
which is what a layer x head grid displays; averaging over every real position uses all the
training text instead of one position per sequence.

Held-out evaluation reports that KL per layer for the logit lens and any trained lenses, beside
the best constant distribution: the bar any lens must clear to say something about a position.
A lens that ignores its input can still score the KL of the mean next-token distribution over
the training text (the constant that minimises the mean KL(final || q) there). A lens worse than
that has learnt less than the unigram statistics of the model's output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor

from engine.trace import Batch
from engine.engine import Engine
from lens.data import eval_batches, pad_id, tokenize
from lens.decode import load_lenses, logit_lens
from lens.errors import LensSpecError
from lens.lenses import LayerLens, Lens, Unembed

RESID_NAME = "logit lens (resid_post)"
# Largest (positions x heads x d_vocab) block of lens logits built at once, to bound memory.
MAX_BLOCK = 1 << 25


def head_chunks(n: int, n_heads: int, d_vocab: int) -> Iterator[slice]:
    """Slices of heads such that ``n x heads x d_vocab`` stays under :data:`MAX_BLOCK` (at least one head)."""
    step = max(1, MAX_BLOCK // max(1, n * d_vocab))
    for h0 in range(0, n_heads, step):
        yield slice(h0, min(n_heads, h0 + step))


def kl_per_head(lens_logits: Tensor, log_probs: Tensor, with_grad: bool = False) -> tuple[Tensor, Tensor | None]:
    """Mean over positions of KL(final || lens): ``(n, h, d_vocab)``, ``(n, d_vocab)`` -> ``(h,)``.

    With ``with_grad``, also the gradient of the per-head KL sum with respect to
    ``lens_logits``, ``(softmax(lens) - final) / n``, computed directly: autograd through
    log_softmax would make several more passes over the largest tensor of training.
    """
    with torch.no_grad():
        z = lens_logits.detach()
        peak = z.amax(-1, keepdim=True)
        q = (z - peak).exp_()
        total = q.sum(-1, keepdim=True)
        log_z = total.log() + peak
        probs = log_probs.exp()
        # sum_v p log q = sum_v p z - log Z, because the final distribution p sums to 1.
        cross = torch.einsum("nv,nhv->nh", probs, z) - log_z[..., 0]
        # KL >= 0; only rounding makes it negative when lens and final agree.
        kl = ((probs * log_probs).sum(-1)[:, None] - cross).mean(0).clamp_min(0.0)
        if not with_grad:
            return kl, None
        n = z.shape[0]
        grad = q.div_(total * n).sub_(probs[:, None] / n)
        return kl, grad


def layer_kl(head_logits: Callable[[Tensor, slice], Tensor], writes: Tensor, log_probs: Tensor,
             n_heads: int, backward: bool = False) -> Tensor:
    """``(n_heads,)`` KL of every head's lens on ``writes`` ``(n, n_heads, d_model)``, in memory-bounded chunks.

    ``head_logits(x, heads)`` maps ``(n, h, d_model)`` writes of ``heads`` to logits. With
    ``backward``, each chunk's summed KL is backpropagated at once, so its graph is freed.
    """
    out = torch.empty(n_heads)
    for heads in head_chunks(writes.shape[0], n_heads, log_probs.shape[-1]):
        logits = head_logits(writes[:, heads], heads)
        out[heads], grad = kl_per_head(logits, log_probs, with_grad=backward)
        if backward:
            logits.backward(grad)
    return out


def batch_kl(engine: Engine, lenses: dict[int, LayerLens], unembed: Unembed, batch: Batch,
             backward: bool) -> dict[int, Tensor]:
    """``{layer: (n_heads,) KL}`` of layer lenses on one batch; with ``backward``, gradients are accumulated."""
    got = engine.capture(batch, tuple(lenses), ("head_writes",))
    n_heads = engine.spec.n_heads
    with torch.set_grad_enabled(backward):
        return {layer: layer_kl(lambda x, heads, lens=lens: lens(x, unembed, heads), got.at("head_writes", layer),
                                got.log_probs, n_heads, backward)
                for layer, lens in lenses.items()}


def heldout_kl(engine: Engine, lenses: dict[int, LayerLens], unembed: Unembed, texts: Sequence[str],
               batch_size: int, max_len: int) -> dict[int, Tensor]:
    """``{layer: (n_heads,)}`` KL(final || lens) averaged over every real position of ``texts``."""
    total = {layer: torch.zeros(engine.spec.n_heads) for layer in lenses}
    n = 0
    for batch in eval_batches(tokenize(engine, texts, max_len), batch_size, pad_id(engine)):
        for layer, kl in batch_kl(engine, lenses, unembed, batch, backward=False).items():
            total[layer] += kl * batch.n_real
        n += batch.n_real
    return {layer: t / max(n, 1) for layer, t in total.items()}


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
        acts = engine.capture(batch, layers)
        with torch.no_grad():
            for i, lens in enumerate(all_lenses):
                for j, layer in enumerate(layers):
                    kl = layer_kl(lambda x, heads, lens=lens, layer=layer: lens.head_logits(layer, x, heads),
                                  acts.at("head_writes", layer), acts.log_probs, n_heads)
                    total[i, j] += kl * batch.n_real
            for j, layer in enumerate(layers):
                logits = all_lenses[0].unembed(acts.at("resid_post", layer))[:, None]
                resid[j] += kl_per_head(logits, acts.log_probs)[0][0] * batch.n_real
        n_tokens += batch.n_real
    scale = 1.0 / max(n_tokens, 1)
    names = ("logit lens (head writes)", *(lens.name for lens in lenses))
    return EvalResult(layers=layers, names=names, kl_heads=(total * scale).numpy(),
                      resid_kl=(resid * scale).numpy(), n_texts=len(seqs), n_tokens=n_tokens)


def evaluate_lenses_on(pool, texts: Sequence[str], folders: Sequence[str], batch_size: int = 32) -> EvalResult:
    """:func:`evaluate_lenses` with ``texts`` split over a pool of engines (``sweeps.EnginePool``), each
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
    return evaluate_lenses(engine, texts, [load_lenses(Path(f), engine) for f in folders], batch_size=batch_size)


def _log_probs(engine, texts: Sequence[str], batch_size: int, max_len: int):
    for batch in eval_batches(tokenize(engine, texts, max_len), batch_size, pad_id(engine)):
        yield engine.capture(batch, (0,), ("resid_post",)).log_probs


def mean_final_distribution(engine, texts: Sequence[str], batch_size: int = 32, max_len: int = 64) -> torch.Tensor:
    """``(d_vocab,)`` the model's final next-token distribution averaged over every real position of ``texts``."""
    total, n = None, 0
    for log_probs in _log_probs(engine, texts, batch_size, max_len):
        probs = log_probs.exp().double().sum(0)
        total = probs if total is None else total + probs
        n += log_probs.shape[0]
    if total is None:
        raise LensSpecError("the best constant distribution needs some training text; none was given")
    return (total / n).float()


def constant_kl(engine, texts: Sequence[str], q: torch.Tensor, batch_size: int = 32, max_len: int = 64) -> float:
    """Mean KL(final || q) in nats over every real position of ``texts``, for a fixed ``(d_vocab,)`` distribution."""
    log_q = q.clamp_min(1e-30).log()
    total, n = 0.0, 0
    for log_probs in _log_probs(engine, texts, batch_size, max_len):
        total += float((log_probs.exp() * (log_probs - log_q)).sum())
        n += log_probs.shape[0]
    return total / max(n, 1)
