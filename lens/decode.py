"""Decode a prompt through a lens: top-k tokens per layer x head x position, and a target's probability and rank.

All heads of a layer go through one batched operation; only top-k summaries leave this
module (small numpy arrays in the result dataclasses below), never full
``(n_layers, pos, d_vocab)`` tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from engine.engine import Engine
from engine.errors import OutOfRangeError, listing
from lens.lenses import Lens, LogitLens, ResidSite, Unembed
from lens.storage import LensSet, open_lenses

Target = int | str | None


def pos_labels(tokens: tuple[str, ...]) -> list[str]:
    """``"3: the"`` for each position: Plotly merges repeated axis labels, so each carries its index."""
    return [f"{i}: {tok}" for i, tok in enumerate(tokens)]


@dataclass(frozen=True, eq=False)
class HeadLensResult:
    """Every head's write at the decoded positions of a prompt, through one lens.

    top_ids, top_probs, top_strs: ``(n_layers, n_heads, n_positions, k)`` for ``layers`` and ``positions``.
    target_prob, target_rank:     ``(n_layers, n_heads, n_positions)``, rank 1 = the top token; None without a target.
    ``tokens`` is the whole prompt; ``positions`` the decoded ones (by default all).
    """

    lens: str
    layers: tuple[int, ...]
    tokens: tuple[str, ...]
    token_ids: tuple[int, ...]
    positions: tuple[int, ...]
    top_ids: np.ndarray
    top_probs: np.ndarray
    top_strs: np.ndarray
    target: str | None = None
    target_id: int | None = None
    target_prob: np.ndarray | None = None
    target_rank: np.ndarray | None = None

    @property
    def n_heads(self) -> int:
        return self.top_ids.shape[1]

    @property
    def labels(self) -> list[str]:
        return pos_labels(self.tokens)

    def row(self, layer: int) -> int:
        """Index along the first axis of the arrays for model layer ``layer``."""
        if layer not in self.layers:
            raise IndexError(f"layer {layer} was not decoded; decoded layers: {self.layers}")
        return self.layers.index(layer)

    def col(self, pos: int) -> int:
        """Index along the position axis of the arrays for prompt position ``pos`` (negative counts from the end)."""
        n_pos = len(self.tokens)
        if not -n_pos <= pos < n_pos:
            raise IndexError(f"position {pos} does not exist; the prompt has positions 0-{n_pos - 1}")
        if pos % n_pos not in self.positions:
            raise IndexError(f"position {pos % n_pos} was not decoded; decoded positions: {self.positions}")
        return self.positions.index(pos % n_pos)


@dataclass(frozen=True, eq=False)
class LogitLensResult:
    """The residual stream at ``site`` of every layer and position, through final norm and unembedding.

    top_ids, top_probs, top_strs: ``(n_layers, pos, k)``.
    target_prob, target_rank:     ``(n_layers, pos)``, rank 1 = the top token; None without a target.
    """

    site: str
    layers: tuple[int, ...]
    tokens: tuple[str, ...]
    token_ids: tuple[int, ...]
    top_ids: np.ndarray
    top_probs: np.ndarray
    top_strs: np.ndarray
    target: str | None = None
    target_id: int | None = None
    target_prob: np.ndarray | None = None
    target_rank: np.ndarray | None = None

    @property
    def labels(self) -> list[str]:
        return pos_labels(self.tokens)


@dataclass(frozen=True, eq=False)
class PatternResult:
    """Attention probabilities of one layer: ``pattern`` is ``(n_heads, pos, pos)`` (query, key)."""

    layer: int
    tokens: tuple[str, ...]
    pattern: np.ndarray

    @property
    def labels(self) -> list[str]:
        return pos_labels(self.tokens)


@dataclass(frozen=True, eq=False)
class TopK:
    """Top-k summary of logits ``(..., d_vocab)``: ids and probs ``(..., k)``; target prob and rank ``(...)``."""

    ids: Tensor
    probs: Tensor
    target_prob: Tensor | None
    target_rank: Tensor | None


def topk_stats(logits: Tensor, k: int, target_id: int | None = None) -> TopK:
    """Softmax top-k of ``logits`` ``(..., d_vocab)`` without materialising the softmax.

    The target's rank counts the tokens strictly more likely than it, plus one.
    """
    top, ids = logits.topk(k, dim=-1)
    peak = top[..., :1]
    log_z = (logits - peak).exp_().sum(-1, keepdim=True).log_() + peak
    probs = (top - log_z).exp()
    if target_id is None:
        return TopK(ids, probs, None, None)
    t = logits[..., target_id : target_id + 1]
    rank = (logits > t).sum(-1) + 1
    return TopK(ids, probs, (t - log_z).exp()[..., 0], rank)


def logit_lens(engine: Engine) -> LogitLens:
    """The logit lens of ``engine``'s model."""
    return LogitLens(Unembed.from_adapter(engine.adapter), engine.spec.n_layers)


def load_lenses(folder: Path, engine) -> LensSet:
    """Open a lens folder for ``engine``'s model; raises ``LensMismatch`` if made for another model."""
    return open_lenses(folder, engine.spec, Unembed.from_adapter(engine.adapter))


def resolve_target(engine: Engine, target: Target, prompt=None) -> tuple[int | None, str | None]:
    """``(token id, token text)`` of a target given as an id or a text (its first token, as the model
    predicts it after ``prompt``), or ``(None, None)``. Raises EmptyPromptError for an empty text and
    MultiTokenError when no real token starts it.
    """
    if target is None:
        return None, None
    if isinstance(target, str):
        target = engine.token_id(target, "target token", first=True, prompt=prompt)
    d_vocab = engine.spec.d_vocab
    if not 0 <= int(target) < d_vocab:
        raise OutOfRangeError(f"target token id {target} does not exist; this model has ids 0-{d_vocab - 1}")
    return int(target), engine.token_strs([int(target)])[0]


def _check_k(k: int, d_vocab: int) -> None:
    if not 1 <= k <= d_vocab:
        raise OutOfRangeError(f"k = {k} top tokens asked for; choose 1-{d_vocab}")


def _strs(engine: Engine, ids: np.ndarray) -> np.ndarray:
    unique, inverse = np.unique(ids, return_inverse=True)
    table = np.array(engine.token_strs(unique.tolist()), dtype=object)
    return table[inverse].reshape(ids.shape)


def _np(x: Tensor | None) -> np.ndarray | None:
    return None if x is None else x.numpy()


def decode_layer(lens: Lens, layer: int, writes: Tensor, k: int, target_id: int | None = None) -> TopK:
    """``writes``: ``(pos, n_heads, d_model)`` -> top-k, axes ``(n_heads, pos)``, all heads in one batch."""
    with torch.no_grad():
        s = topk_stats(lens.head_logits(layer, writes), k, target_id)
    flip = (lambda t: None if t is None else t.transpose(0, 1))
    return TopK(flip(s.ids), flip(s.probs), flip(s.target_prob), flip(s.target_rank))


def _positions(positions: Sequence[int] | None, n_pos: int) -> tuple[int, ...]:
    if positions is None:
        return tuple(range(n_pos))
    bad = [p for p in positions if not -n_pos <= p < n_pos]
    if bad or not positions:
        raise OutOfRangeError(f"position(s) {listing(bad) or '(none)'} do not exist; "
                              f"the prompt has positions 0-{n_pos - 1}")
    return tuple(sorted({p % n_pos for p in positions}))


def decode_heads(engine: Engine, lens: Lens, prompt, layers: Sequence[int] | None = None, k: int = 5,
                 target: Target = None, positions: Sequence[int] | None = None) -> HeadLensResult:
    """Decode every head's write through ``lens`` for ``layers`` (default: all the lens has) and ``positions``.

    ``positions`` defaults to every position; on a large vocabulary, decoding only the one
    position a page shows costs ``1/pos`` of decoding all.
    """
    _check_k(k, engine.spec.d_vocab)
    layers = tuple(lens.layers if layers is None else (lens.check_layer(l) for l in layers))
    target_id, target_str = resolve_target(engine, target, prompt)
    trace = engine.trace(prompt)
    cols = _positions(positions, trace.n_pos)
    stats = [decode_layer(lens, l, trace.head_writes(l)[list(cols)], k, target_id) for l in layers]
    top_ids = torch.stack([s.ids for s in stats]).numpy()
    return HeadLensResult(
        lens=lens.name, layers=layers, tokens=tuple(engine.token_strs(trace.tokens)),
        token_ids=tuple(trace.tokens), positions=cols, top_ids=top_ids,
        top_probs=torch.stack([s.probs for s in stats]).numpy(), top_strs=_strs(engine, top_ids),
        target=target_str, target_id=target_id,
        target_prob=None if target_id is None else torch.stack([s.target_prob for s in stats]).numpy(),
        target_rank=None if target_id is None else torch.stack([s.target_rank for s in stats]).numpy(),
    )


def decode_logit_lens(engine: Engine, prompt, k: int = 5, target: Target = None,
                      site: ResidSite = "resid_post") -> LogitLensResult:
    """Logit lens of the residual stream at ``site`` of every layer and position of ``prompt``."""
    _check_k(k, engine.spec.d_vocab)
    target_id, target_str = resolve_target(engine, target, prompt)
    trace = engine.trace(prompt)
    lens = logit_lens(engine)
    layers = lens.layers
    with torch.no_grad():
        stats = topk_stats(torch.stack([lens.resid_logits(trace, l, site) for l in layers]), k, target_id)
    top_ids = stats.ids.numpy()
    return LogitLensResult(
        site=site, layers=layers, tokens=tuple(engine.token_strs(trace.tokens)),
        token_ids=tuple(trace.tokens), top_ids=top_ids, top_probs=stats.probs.numpy(),
        top_strs=_strs(engine, top_ids), target=target_str, target_id=target_id,
        target_prob=_np(stats.target_prob), target_rank=_np(stats.target_rank),
    )


def attention_pattern(engine: Engine, prompt, layer: int) -> PatternResult:
    """Attention probabilities ``(n_heads, pos, pos)`` of ``layer`` on ``prompt``."""
    pattern = engine.pattern(prompt, layer)
    return PatternResult(layer=layer, tokens=tuple(engine.token_strs(engine.trace(prompt).tokens)),
                         pattern=pattern.numpy())
