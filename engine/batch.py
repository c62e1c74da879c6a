"""Several runs of one prompt in one forward: each run's edits change only its own rows of the batch.

A sweep asks the same prompt many questions (intensities, modes, layers,
scales). Stacking them as rows of one batch turns many one-row forwards into
one many-row forward: the weights are read once, and on a GPU or a large model
that is most of the cost. Run ``b`` owns rows ``b * rows .. (b + 1) * rows - 1``
(``rows`` noise samples each); its edits are applied to those rows exactly as a
run of its own would apply them, so each run's numbers equal its one-run
numbers up to float rounding.
"""

from __future__ import annotations

from typing import Sequence

import torch

from engine.adapter import Adapter
from engine.edits import Edit
from engine.forward import run_last_logits
from engine.trace import Trace


class RowsEdit(Edit):
    """The edits of several runs at one hook point (block, module, input or output), row group by row group."""

    def __init__(self, parts: Sequence[Sequence[Edit]], rows: int) -> None:
        first = next(e for part in parts for e in part)
        self.source = first.source
        self.layer, self.target, self.pre = first.layer, first.target, first.pre
        flat = [e for part in parts for e in part]
        self.first = min(e.first for e in flat)
        self.whole_prompt = any(e.whole_prompt for e in flat)
        self.in_mlp = all(e.in_mlp for e in flat)
        self.stochastic = any(e.stochastic for e in flat)
        units = [e.units for e in flat if getattr(e, "units", None) is not None]
        self.units = torch.unique(torch.cat(units)) if units else None
        self.parts = [tuple(part) for part in parts]
        self.n_rows = rows
        self._rows = {}

    def edit(self, x: torch.Tensor, q0: int, q1: int) -> torch.Tensor:
        """``x``: ``(n_runs * rows, q, width)`` (or a batch of 1, expanded) -> each run's rows edited by its edits."""
        total = len(self.parts) * self.n_rows
        if x.shape[0] != total:
            x = x.expand(total, *x.shape[1:])
        out = []
        for b, part in enumerate(self.parts):
            xb = x[b * self.n_rows:(b + 1) * self.n_rows]
            for e in part:
                xb = e.edit(xb, q0, q1)
            out.append(xb)
        return torch.cat(out)


def stack_edits(runs: Sequence[Sequence[Edit]], rows: int) -> list[RowsEdit]:
    """One :class:`RowsEdit` per hook point any run uses, for a batch of ``len(runs) * rows`` rows.

    Within a run, edits at the same hook point keep their order.
    """
    points: dict[tuple[int, str, bool], list[list[Edit]]] = {}
    for b, edits in enumerate(runs):
        for e in edits:
            parts = points.setdefault((e.layer, e.target, e.pre), [[] for _ in runs])
            parts[b].append(e)
    return [RowsEdit(parts, rows) for parts in points.values()]


def run_rows(adapter: Adapter, trace: Trace, runs: Sequence[Sequence[Edit]], rows: int, max_rows: int,
             lock) -> dict[int, torch.Tensor]:
    """``{b: (rows, d_vocab)}`` CPU float32 last-position logits of every run ``b`` that has edits.

    At most ``max_rows`` rows go through one forward; ``lock`` (the engine's) is held for each.
    """
    active = [b for b, edits in enumerate(runs) if edits]
    step = max(1, max_rows // rows)
    out: dict[int, torch.Tensor] = {}
    for start in range(0, len(active), step):
        chunk = active[start:start + step]
        with lock, torch.no_grad():
            logits = run_last_logits(adapter, trace, stack_edits([runs[b] for b in chunk], rows), rows * len(chunk))
        logits = logits.to("cpu", torch.float32)
        out.update({b: logits[i * rows:(i + 1) * rows] for i, b in enumerate(chunk)})
    return out
