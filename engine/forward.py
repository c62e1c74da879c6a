"""Forward passes: the clean trace, runs with hooks that restart from it, and several runs in one batch.

Forward passes: the clean trace, and runs with hooks that restart from it.

A run whose earliest hook is at block L restarts from the trace's resid_pre of
block L; when every hook at L sits in the MLP, block L's attention is not
rerun (and for hooks of mlp_post / mlp_out, not even its MLP: the change goes
through W_out, which is linear). Positions before the earliest changed one are
not recomputed: their keys and values come from the trace (so a hook at the
last position recomputes one row). In the last block, only the last position
runs in full; the others only supply keys and values. Each shortcut computes
what the full forward computes at the last position (the tests hold them to
the hooked full forward, atol 1e-4).

Several runs of one prompt in one forward: each run's hooks change only its own rows of the batch.

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

from engine.adapter import Adapter, Frame, KVTap, patterns_of
from engine.hooks import Capture, Cursor, Hook, installed
from engine.trace import Trace


def clean_trace(adapter: Adapter, tokens: Sequence[int]) -> Trace:
    """Run ``tokens`` once without hooks and keep every activation (see :class:`Trace`)."""
    n_pos, n_layers = len(tokens), adapter.n_layers
    frame = adapter.frame(0, n_pos)
    cursor, capture, tap = Cursor(frame), Capture(), KVTap(record=True)
    with installed(adapter, (), cursor, capture):
        h = adapter.embed(torch.tensor([list(tokens)], dtype=torch.long, device=adapter.device))
        resid = [h[0]]
        for layer in range(n_layers):
            h = adapter.block(layer, h, frame, tap)
            resid.append(h[0])
        logits = adapter.unembed(h[0])
    seen = capture.seen

    def stacked(site: str) -> torch.Tensor:
        return torch.stack([seen[site][layer][0] for layer in range(n_layers)])

    return Trace(
        tokens=list(tokens), logits=logits, resid=torch.stack(resid), attn=stacked("attn_out"),
        z=stacked("z").unflatten(-1, (adapter.n_heads, -1)), mlp_input=stacked("mlp_in"),
        mlp_hidden=stacked("mlp_post"), mlp=stacked("mlp_out"),
        W_O=tuple(adapter.W_O(layer) for layer in range(n_layers)),
        b_O=tuple(adapter.b_O(layer) for layer in range(n_layers)),
        keys=tuple(tap.recorded[layer][0] for layer in range(n_layers)),
        values=tuple(tap.recorded[layer][1] for layer in range(n_layers)),
    )


def layer_pattern(adapter: Adapter, trace: Trace, layer: int) -> torch.Tensor:
    """``(n_heads, pos, pos)`` attention probabilities of block ``layer``: its attention alone, rerun on the
    trace's resid_pre with the probabilities asked for (callers hold the engine lock)."""
    frame = adapter.frame(0, trace.n_pos)
    with patterns_of([adapter.attn[layer]]):
        out = adapter.attend(layer, trace.resid[layer].unsqueeze(0), frame)
    return out[1][0]


def _mlp_linear(adapter: Adapter, trace: Trace, hooks: Sequence[Hook], layer: int, rows: slice,
                batch: int, frame: Frame) -> torch.Tensor:
    """resid_post of block ``layer`` when its hooks act only on mlp_post / mlp_out, without running the MLP.

    The MLP output is linear in mlp_post, so the changed resid_post is the clean one plus
    ``(changed - clean neurons) @ W_out`` over the changed units, plus what mlp_out hooks change.
    """
    clean_out = trace.mlp[layer][rows].unsqueeze(0)
    out = clean_out.expand(batch, -1, -1)  # a noise hook of mlp_out alone fills every sample's rows
    post = [e for e in hooks if e.target == "mlp_o"]
    if post:
        clean = trace.mlp_hidden[layer][rows].unsqueeze(0)
        neurons = clean.expand(batch, -1, -1).contiguous()
        for e in post:
            neurons = e.apply(neurons, frame.q0, frame.q1)
        units = torch.unique(torch.cat([e.units for e in post]))
        change = neurons[..., units] - clean[..., units]
        out = out + change @ adapter.W_out(layer)[units]
    for e in hooks:
        if e.target == "mlp":
            out = e.apply(out, frame.q0, frame.q1)
    return trace.resid[layer + 1][rows].unsqueeze(0) + (out - clean_out)


def _start(adapter: Adapter, trace: Trace, hooks: Sequence[Hook], layer: int, batch: int,
           frame: Frame) -> tuple[torch.Tensor, int]:
    """The residual to restart from for ``frame``'s rows (batch expanded), and the block that reads it.

    When every hook at ``layer`` sits in the MLP, its attention is not rerun.
    """
    rows = slice(frame.q0, frame.q1)
    here = [e for e in hooks if e.layer == layer]
    h = trace.resid[layer][rows].unsqueeze(0).expand(batch, -1, -1)
    if not all(e.in_mlp for e in here):
        return h, layer
    if any(e.target == "mlp" and e.pre for e in here):  # mlp_in hooks: the MLP must run
        return adapter.mlp_half(layer, h, trace.attn[layer][rows].unsqueeze(0)), layer + 1
    return _mlp_linear(adapter, trace, here, layer, rows, batch, frame), layer + 1


def _recompute(adapter: Adapter, trace: Trace, hooks: Sequence[Hook], batch: int,
               cursor: Cursor) -> torch.Tensor:
    """``(batch, 1, d_model)`` last resid_post, recomputing only what the hooks can change.

    Rows before the earliest changed position p0 are clean: their keys/values come from the
    trace. In the last block the rows p0..pos-2 only supply keys/values.
    """
    n_pos, last = trace.n_pos, adapter.n_layers - 1
    layer = min(e.layer for e in hooks)
    p0 = min(min(e.first for e in hooks), n_pos - 1)
    past = {}
    if p0 > 0:
        past = {l: (trace.keys[l][..., :p0, :], trace.values[l][..., :p0, :])
                for l in range(layer, adapter.n_layers)}
    frame = cursor.frame = adapter.frame(p0, n_pos)
    h, first = _start(adapter, trace, hooks, layer, batch, frame)
    shortcut = p0 < n_pos - 1 and not any(e.whole_prompt and e.layer == last for e in hooks)
    for l in range(first, last if shortcut else last + 1):
        h = adapter.block(l, h, frame, KVTap(past))
    if shortcut and first <= last:
        tap = KVTap(past, record=True)
        cursor.frame = adapter.frame(p0, n_pos - 1)
        adapter.attend(last, h[:, :-1], cursor.frame, tap)
        cursor.frame = adapter.frame(n_pos - 1, n_pos)
        h = adapter.block(last, h[:, -1:], cursor.frame, KVTap({last: tap.recorded[last]}))
    return h[:, -1:]


def run_last_logits(adapter: Adapter, trace: Trace, hooks: Sequence[Hook], batch: int,
                    use_cache: bool = True) -> torch.Tensor:
    """``(batch, d_vocab)`` last-position logits of ``trace``'s prompt with ``hooks`` applied.

    ``use_cache=False`` runs the plain hooked full forward from the embedding (the reference).
    """
    cursor = Cursor(adapter.frame(0, trace.n_pos))
    with installed(adapter, hooks, cursor):
        if use_cache:
            h = _recompute(adapter, trace, hooks, batch, cursor)
        else:
            h = _full_forward(adapter, trace.tokens, batch, cursor.frame)
        return adapter.unembed_rows(h[:, -1])


def _full_forward(adapter: Adapter, tokens: Sequence[int], batch: int, frame: Frame) -> torch.Tensor:
    """``(batch, pos, d_model)`` last resid_post from the embedding on (hooks already installed)."""
    h = adapter.embed(torch.tensor([list(tokens)], dtype=torch.long, device=adapter.device)).expand(batch, -1, -1)
    for layer in range(adapter.n_layers):
        h = adapter.block(layer, h, frame)
    return h


def run_site(adapter: Adapter, trace: Trace, hooks: Sequence[Hook], site: str) -> torch.Tensor:
    """``(n_layers, pos, width)`` activations at ``site`` with ``hooks`` (sample 0), every position.

    Layers before the earliest hook are the trace's; later ones are recomputed.
    """
    clean = trace.stack(site)
    layer = min(e.layer for e in hooks)
    frame = adapter.frame(0, trace.n_pos)
    capture = Capture()
    with installed(adapter, hooks, Cursor(frame), capture, range(layer, adapter.n_layers)):
        h = trace.resid[layer].unsqueeze(0)
        resid = {}
        for l in range(layer, adapter.n_layers):
            resid[l] = h[0]
            h = adapter.block(l, h, frame)
        resid[adapter.n_layers] = h[0]
    seen = capture.seen

    def at(l: int) -> torch.Tensor:
        if site == "resid_pre":
            return resid[l]
        if site == "resid_post":
            return resid[l + 1]
        if site == "resid_mid":
            return resid[l] + seen["attn_out"][l][0]
        return seen[site][l][0]

    return torch.stack([clean[l] if l < layer else at(l) for l in range(adapter.n_layers)])


def logits_with_mlp_change(adapter: Adapter, trace: Trace, layer: int, change: torch.Tensor) -> torch.Tensor:
    """``(d_vocab,)`` last-position logits with ``change`` ``(pos, d_model)`` added to block ``layer``'s MLP
    output: the clean resid_post of ``layer`` plus the change, through the later blocks. No hooks; the
    result is differentiable in ``change``, which is cast to the trace's device and dtype (callers hold the
    engine lock)."""
    resid = trace.resid[layer + 1]
    h = (resid + change.to(resid.device, resid.dtype)).unsqueeze(0)
    frame = adapter.frame(0, trace.n_pos)
    for later in range(layer + 1, adapter.n_layers):
        h = adapter.block(later, h, frame)
    return adapter.unembed(h[0, -1])


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
