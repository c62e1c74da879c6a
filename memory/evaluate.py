"""Does injecting the missing bridge entity repair two-hop prompts the model gets wrong, and a control not?

Three ways to pick the (layer, scale), each applied alike to bridge and control:
one cell chosen on the *taught* split with the bridge and used for every
heldout prompt, bridge and control alike (a paired comparison); leave-one-out
over the wrong heldout prompts (each prompt gets the cell that is best for the
others with the same kind of memory, so it is never judged by a choice made on
itself); and
each prompt's own best cell (optimistic: a per-prompt maximum favours any
injection, control included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from engine.engine import Engine
from memory.errors import MemorySpecError
from memory.inject import answer_token_id
from memory.sweep import LayerScaleSweep, Progress, SweepCase, SweepSpec, resolve_grid, sweep_layer_scale

REPAIR_THRESHOLD = 2.0


@dataclass(frozen=True)
class RepairStats:
    """How much injections raised the answer's probability over ``n`` prompts.

    ``fraction_repaired``: share with gain >= ``threshold``; ``mean_ratio`` is the
    paper's mean of per-prompt ratios (dominated by tiny starting probabilities).
    """

    n: int
    fraction_repaired: float
    median_gain: float
    mean_ratio: float
    threshold: float = REPAIR_THRESHOLD


@dataclass(frozen=True)
class RepairReport:
    """Bridge vs control injections on the heldout prompts the model gets wrong.

    ``fixed_*``: at (``layer``, ``scale``) chosen on the taught split;
    ``loo_*``: at the cell chosen, with the same memory, on the other wrong prompts (the bridge's
    cells are ``loo_cells``, one per prompt; the control chooses its own the same way);
    ``best_*``: at each prompt's own best cell of the grid.
    """

    layer: int
    scale: float
    n_heldout: int
    n_wrong: int
    fixed_bridge: RepairStats
    fixed_control: RepairStats
    loo_bridge: RepairStats
    loo_control: RepairStats
    loo_cells: tuple[tuple[int, float], ...]
    best_bridge: RepairStats
    best_control: RepairStats


def repair_stats(gains: Iterable[float], threshold: float = REPAIR_THRESHOLD) -> RepairStats:
    """Summarise ``(n,)`` gain ratios: fraction at or above ``threshold``, median, mean."""
    g = np.asarray(list(gains), dtype=np.float64)
    if g.size == 0:
        return RepairStats(0, float("nan"), float("nan"), float("nan"), threshold)
    return RepairStats(int(g.size), float((g >= threshold).mean()), float(np.median(g)), float(g.mean()), threshold)


def choose_layer_scale(sweep: LayerScaleSweep) -> tuple[int, float]:
    """The grid cell with the highest mean log gain over the sweep's cases (a geometric mean, robust to outliers)."""
    score = np.log(np.maximum(sweep.gain, 1e-300)).mean(axis=0)
    i, j = np.unravel_index(int(np.argmax(score)), score.shape)
    return sweep.layers[i], sweep.scales[j]


def leave_one_out(sweep: LayerScaleSweep) -> tuple[np.ndarray, list[tuple[int, float]]]:
    """Per case, its gain at the cell that ``choose_layer_scale`` picks on the *other* cases.

    Returns ``(n_cases,)`` gains and the ``n_cases`` chosen (layer, scale) cells.
    """
    n = len(sweep.cases)
    if n < 2:
        raise MemorySpecError("leave-one-out needs at least two prompts")
    score = np.log(np.maximum(sweep.gain, 1e-300))
    total = score.sum(axis=0)
    gains, cells = np.zeros(n), []
    for k in range(n):
        i, j = np.unravel_index(int(np.argmax(total - score[k])), total.shape)
        gains[k] = sweep.gain[k, i, j]
        cells.append((sweep.layers[i], sweep.scales[j]))
    return gains, cells


def answers_top1(engine: Engine, prompt: str, answer: str) -> bool:
    """Whether the model's clean top-1 next token after ``prompt`` is the answer's first token."""
    return int(engine.trace(prompt).logits[-1].argmax()) == answer_token_id(engine, answer)


def two_hop_cases(prompts: Sequence, labels: Sequence[str] = ("bridge", "control")) -> list[SweepCase]:
    """Sweep cases from two-hop prompts: for each prompt, one case per label, whose memory is that field.

    A prompt's index in ``prompts`` makes its key, e.g. "12:bridge".
    """
    for label in labels:
        if label not in ("bridge", "control"):
            raise MemorySpecError(f"unknown memory label {label!r}; use 'bridge' and/or 'control'")
    return [SweepCase(f"{i}:{label}", p.prompt, p.answer, getattr(p, label), label)
            for i, p in enumerate(prompts) for label in labels]


def split_prompts(prompts: Sequence, split: str) -> list:
    """The prompts of one split ("taught" or "heldout"); MemorySpecError if there are none."""
    chosen = [p for p in prompts if p.split == split]
    if not chosen:
        found = sorted({p.split for p in prompts})
        raise MemorySpecError(f"no two-hop prompt has split {split!r}; splits present: {found}")
    return chosen


def repair_check(engine: Engine, prompts: Sequence, spec: SweepSpec = SweepSpec(),
                 progress: Progress | None = None) -> tuple[RepairReport, LayerScaleSweep, LayerScaleSweep]:
    """Sweep the taught split (to choose one cell) and the wrong heldout prompts (bridge and control).

    Reports the heldout gains at the taught cell, by leave-one-out, and at each
    prompt's own best cell. Returns the report, the taught sweep and the heldout sweep (for heatmaps).
    """
    taught = split_prompts(prompts, "taught")
    heldout = split_prompts(prompts, "heldout")
    wrong = [p for p in heldout if not answers_top1(engine, p.prompt, p.answer)]
    if not wrong:
        raise MemorySpecError("the model answers every heldout two-hop prompt; there is nothing to repair")
    layers, scales = resolve_grid(engine, spec)
    n_taught = len(taught) * len(layers) * len(scales)
    n_total = n_taught + 2 * len(wrong) * len(layers) * len(scales)

    def taught_progress(done: int, _total: int) -> None:
        if progress is not None:
            progress(done, n_total)

    def heldout_progress(done: int, _total: int) -> None:
        if progress is not None:
            progress(n_taught + done, n_total)

    taught_sweep = sweep_layer_scale(engine, two_hop_cases(taught, ("bridge",)), spec, taught_progress)
    layer, scale = choose_layer_scale(taught_sweep)
    held = sweep_layer_scale(engine, two_hop_cases(wrong), spec, heldout_progress)
    bridge, control = held.select("bridge"), held.select("control")
    loo_b, cells = leave_one_out(bridge) if len(wrong) > 1 else ([], [])
    loo_c = leave_one_out(control)[0] if len(wrong) > 1 else []
    report = RepairReport(layer, scale, len(heldout), len(wrong),
                          repair_stats(bridge.gains_at(layer, scale)), repair_stats(control.gains_at(layer, scale)),
                          repair_stats(loo_b), repair_stats(loo_c), tuple(cells),
                          repair_stats(bridge.best_gains()[0]), repair_stats(control.best_gains()[0]))
    return report, taught_sweep, held


def format_stats(name: str, s: RepairStats) -> str:
    """One line: fraction repaired, median gain, mean ratio."""
    return (f"{name:<22} n={s.n:<4} repaired(>= {s.threshold:g}x)={s.fraction_repaired:6.1%}  "
            f"median gain={s.median_gain:8.3f}x  mean ratio={s.mean_ratio:10.3f}x")


def _count_cells(cells: Sequence[tuple[int, float]]) -> str:
    counts: dict[tuple[int, float], int] = {}
    for c in cells:
        counts[c] = counts.get(c, 0) + 1
    return ", ".join(f"L{l} τ{s:g} ×{n}" for (l, s), n in sorted(counts.items(), key=lambda kv: -kv[1]))


def format_report(r: RepairReport) -> str:
    """The report as printable lines, medians and fractions first."""
    return "\n".join([
        f"heldout two-hop prompts: {r.n_heldout}, answered wrong (not top-1): {r.n_wrong}",
        f"layer/scale chosen on the taught split: layer {r.layer}, scale {r.scale:g}",
        format_stats("bridge  @ taught cell", r.fixed_bridge),
        format_stats("control @ taught cell", r.fixed_control),
        format_stats("bridge  @ leave-1-out", r.loo_bridge),
        format_stats("control @ leave-1-out", r.loo_control),
        f"leave-one-out cells of the bridge (layer, scale): {_count_cells(r.loo_cells)}",
        format_stats("bridge  @ own best", r.best_bridge),
        format_stats("control @ own best", r.best_control),
    ])
