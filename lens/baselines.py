"""Baselines a head lens must beat to say it reads the head, not the position's token.

- The current-token table: the mean final next-token distribution given the current input
  token, fitted on training lines (the best constant for tokens never seen there). It reads no
  head at all, so a head lens that loses to it says less than the input token does.
- The shuffled-position control: the trained lens reading a head's write from another position
  of the same line. What a lens keeps under it is line-level, not about this position.

Both are scored as :mod:`lens.evaluate` scores lenses: mean KL(final || q) over every real
position of held-out lines, so the numbers sit in the same table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor

from engine.trace import Batch, Captured
from engine.engine import Engine
from lens.data import eval_batches, pad_id, tokenize
from lens.errors import LensSpecError
from lens.evaluate import layer_kl
from lens.lenses import Lens

TABLE_NAME = "current-token table"
SHUFFLED_SUFFIX = ", shuffled positions"


@dataclass(frozen=True, eq=False)
class TokenTable:
    """Mean final distribution per input token: ``rows`` ``(n_seen, d_vocab)``, ``index`` token -> row, ``constant``."""

    rows: Tensor
    index: dict[int, int]
    constant: Tensor

    def log_q(self, tokens: Tensor) -> Tensor:
        """``(n,)`` input tokens -> ``(n, d_vocab)`` log-probabilities (the constant for unseen tokens)."""
        table = torch.cat([self.rows, self.constant[None]])
        unseen = len(self.index)
        rows = torch.tensor([self.index.get(int(t), unseen) for t in tokens], dtype=torch.long)
        return table[rows].clamp_min(1e-30).log()


def _captured(engine: Engine, texts: Sequence[str], layers: Sequence[int], batch_size: int,
              max_len: int) -> Iterator[tuple[Batch, Captured]]:
    for batch in eval_batches(tokenize(engine, texts, max_len), batch_size, pad_id(engine)):
        sites = ("head_writes",) if layers else ("resid_post",)
        yield batch, engine.capture(batch, tuple(layers) or (0,), sites)


def fit_token_table(engine: Engine, texts: Sequence[str], batch_size: int = 32, max_len: int = 64) -> TokenTable:
    """The current-token table fitted on ``texts`` (training lines): per input token, the mean final distribution.

    Rows exist only for tokens seen in ``texts``, so a large vocabulary costs what the text uses.
    """
    index: dict[int, int] = {}
    sums = torch.empty(0, 0, dtype=torch.float64)
    counts = torch.empty(0, dtype=torch.float64)
    total, n = None, 0
    for batch, got in _captured(engine, texts, (), batch_size, max_len):
        probs = got.log_probs.exp().double()
        tokens = batch.ids[batch.mask].tolist()
        for t in dict.fromkeys(tokens):
            index.setdefault(t, len(index))
        if len(index) > sums.shape[0]:
            grow = len(index) - sums.shape[0]
            sums = torch.cat([sums.reshape(-1, probs.shape[1]), torch.zeros(grow, probs.shape[1], dtype=torch.float64)])
            counts = torch.cat([counts, torch.zeros(grow, dtype=torch.float64)])
        rows = torch.tensor([index[t] for t in tokens], dtype=torch.long)
        sums.index_add_(0, rows, probs)
        counts.index_add_(0, rows, torch.ones(len(tokens), dtype=torch.float64))
        total = probs.sum(0) if total is None else total + probs.sum(0)
        n += probs.shape[0]
    if total is None:
        raise LensSpecError("the current-token table needs some training text; none was given")
    return TokenTable((sums / counts[:, None]).float(), index, (total / n).float())


def table_kl(engine: Engine, texts: Sequence[str], table: TokenTable, batch_size: int = 32, max_len: int = 64) -> float:
    """Mean KL(final || table[current token]) in nats over every real position of ``texts``."""
    total, n = 0.0, 0
    for batch, got in _captured(engine, texts, (), batch_size, max_len):
        log_q = table.log_q(batch.ids[batch.mask])
        total += float((got.log_probs.exp() * (got.log_probs - log_q)).sum())
        n += got.log_probs.shape[0]
    return total / max(n, 1)


def shuffled_positions(lengths: Sequence[int], first_line: int, seed: int = 0) -> Tensor:
    """``(sum(lengths),)`` for each real position (flattened line by line), the flat index of another
    position of the same line: a cyclic shift by a seeded offset per line (itself for one-token lines).

    The offset depends only on ``seed`` and the line's index ``first_line + row``, never on the batch.
    """
    out, start = [], 0
    for row, length in enumerate(int(x) for x in lengths):
        shift = 0 if length < 2 else int(np.random.default_rng([seed, first_line + row]).integers(1, length))
        out.append(start + (torch.arange(length) + shift) % length)
        start += length
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long)


def shuffled_kl(engine: Engine, texts: Sequence[str], lens: Lens, layers: Sequence[int], seed: int = 0,
                batch_size: int = 32, max_len: int = 64) -> np.ndarray:
    """``(n_layers, n_heads)`` KL of ``lens`` reading each head's write from another position of the same line."""
    n_heads = engine.spec.n_heads
    total = torch.zeros(len(layers), n_heads)
    n, lines = 0, 0
    for batch, got in _captured(engine, texts, layers, batch_size, max_len):
        perm = shuffled_positions(batch.lengths.tolist(), lines, seed)
        with torch.no_grad():
            for j, layer in enumerate(layers):
                writes = got.at("head_writes", layer)[perm]
                total[j] += layer_kl(lambda x, heads, layer=layer: lens.head_logits(layer, x, heads),
                                     writes, got.log_probs, n_heads) * batch.n_real
        n += batch.n_real
        lines += batch.ids.shape[0]
    return (total / max(n, 1)).numpy()


def heads_beating(kl_heads: np.ndarray, bar: float, layers: Sequence[int]) -> list[str]:
    """Per layer, which heads' KL ``(n_layers, n_heads)`` is below ``bar``, and by how much (printable lines)."""
    lines = []
    for j, layer in enumerate(layers):
        cells = [f"h{h} {bar - kl:+.2f}" for h, kl in enumerate(kl_heads[j])]
        wins = [h for h, kl in enumerate(kl_heads[j]) if kl < bar]
        lines.append(f"  layer {layer}: {len(wins)}/{len(kl_heads[j])} heads beat it (margin, nats: "
                     + ", ".join(cells) + ")")
    return lines
