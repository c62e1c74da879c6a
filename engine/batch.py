"""Several runs of one prompt in one forward: each run's hooks change only its own rows of the batch.

A sweep asks the same prompt many questions (intensities, modes, layers,
scales). Stacking them as rows of one batch turns many one-row forwards into
one many-row forward: the weights are read once, and on a GPU or a large model
that is most of the cost. Run ``b`` owns rows ``b * rows .. (b + 1) * rows - 1``
(``rows`` noise samples each); its hooks are applied to those rows exactly as a
run of its own would apply them, so each run's numbers equal its one-run
numbers up to float rounding.
"""

from __future__ import annotations

from typing import Sequence

import torch

from engine.adapter import Adapter
from engine.forward import run_last_logits
from engine.hooked import Hook
from engine.trace import Trace


class RowsHook(Hook):
    """The hooks of several runs at one hook point (block, module, input or output), row group by row group."""

    def __init__(self, parts: Sequence[Sequence[Hook]], rows: int) -> None:
        flat = [h for part in parts for h in part]
        first = flat[0]
        self.source = first.source
        self.layer, self.target, self.pre = first.layer, first.target, first.pre
        self.first = min(h.first for h in flat)
        self.whole_prompt = any(h.whole_prompt for h in flat)
        self.in_mlp = all(h.in_mlp for h in flat)
        self.stochastic = any(h.stochastic for h in flat)
        self.reads_input = any(h.reads_input for h in flat)
        units = [h.units for h in flat if h.units is not None]
        self.units = torch.unique(torch.cat(units)) if units else None
        self.parts = [tuple(part) for part in parts]
        self.n_rows = rows
        self._rows = {}

    def apply(self, x: torch.Tensor, q0: int, q1: int, x_in: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: ``(n_runs * rows, q, width)`` (or a batch of 1, expanded) -> each run's rows changed by its
        hooks; ``x_in`` (the module's input, when a hook reads it) is split into the same row groups."""
        total = len(self.parts) * self.n_rows
        if x.shape[0] != total:
            x = x.expand(total, *x.shape[1:])
        if x_in is not None and x_in.shape[0] != total:
            x_in = x_in.expand(total, *x_in.shape[1:])
        out = []
        for b, part in enumerate(self.parts):
            group = slice(b * self.n_rows, (b + 1) * self.n_rows)
            xb, xb_in = x[group], None if x_in is None else x_in[group]
            for h in part:
                xb = h.apply(xb, q0, q1, xb_in if h.reads_input else None)
            out.append(xb)
        return torch.cat(out)

    def size(self) -> float:
        return max(h.size() for part in self.parts for h in part)


def stack_hooks(runs: Sequence[Sequence[Hook]], rows: int) -> list[RowsHook]:
    """One :class:`RowsHook` per hook point any run uses, for a batch of ``len(runs) * rows`` rows.

    Within a run, hooks at the same hook point keep their order.
    """
    points: dict[tuple[int, str, bool], list[list[Hook]]] = {}
    for b, hooks in enumerate(runs):
        for h in hooks:
            parts = points.setdefault((h.layer, h.target, h.pre), [[] for _ in runs])
            parts[b].append(h)
    return [RowsHook(parts, rows) for parts in points.values()]


def run_rows(adapter: Adapter, trace: Trace, runs: Sequence[Sequence[Hook]], rows: int, max_rows: int,
             lock) -> dict[int, torch.Tensor]:
    """``{b: (rows, d_vocab)}`` CPU float32 last-position logits of every run ``b`` that has hooks.

    At most ``max_rows`` rows go through one forward; ``lock`` (the engine's) is held for each.
    """
    active = [b for b, hooks in enumerate(runs) if hooks]
    step = max(1, max_rows // rows)
    out: dict[int, torch.Tensor] = {}
    for start in range(0, len(active), step):
        chunk = active[start:start + step]
        with lock, torch.no_grad():
            logits = run_last_logits(adapter, trace, stack_hooks([runs[b] for b in chunk], rows), rows * len(chunk))
        logits = logits.to("cpu", torch.float32)
        out.update({b: logits[i * rows:(i + 1) * rows] for i, b in enumerate(chunk)})
    return out
