"""Does injecting the missing bridge entity repair two-hop prompts the model gets wrong, and a control not?

The control is judged like for like: at the very cells the bridge was given. Three ways
to pick the bridge's (layer, scale): one cell chosen on the *taught* split and used for
every heldout prompt; leave-one-out over the wrong heldout prompts (each prompt gets the
cell that is best for the others, so it is never judged by a choice made on itself); and
each prompt's own best cell (optimistic: a per-prompt maximum favours any injection,
control included). The control choosing its own leave-one-out cells is reported too: it
tends to pick the gentlest scale, a near no-op, so it alone would flatter the bridge.
Each figure comes with a 95% interval: the wrong prompts are few.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

from engine.engine import Engine
from memory.build import build_memory
from memory.errors import MemorySpecError
from memory.inject import answer_token_id, inject_run
from memory.intervals import bootstrap_median, wilson
from memory.sweep import LayerScaleSweep, Progress, SweepCase, SweepSpec, resolve_grid, sweep_layer_scale

REPAIR_THRESHOLD = 2.0
Cell = tuple[int, float]


@dataclass(frozen=True)
class RepairStats:
    """How injections changed the answer over ``n`` prompts, each at its own (layer, scale) in ``cells``.

    ``n_repaired``: prompts whose answer probability at least doubled (gain >= ``threshold``);
    ``n_top1``: prompts whose answer became the top-1 token (None where not measured);
    ``*_ci``: 95% intervals (Wilson for the fractions, bootstrap for the median);
    ``mean_ratio`` is the paper's mean of per-prompt ratios (dominated by tiny starting probabilities).
    """

    n: int
    fraction_repaired: float
    median_gain: float
    mean_ratio: float
    threshold: float = REPAIR_THRESHOLD
    n_repaired: int = 0
    n_top1: int | None = None
    repaired_ci: tuple[float, float] = (float("nan"), float("nan"))
    top1_ci: tuple[float, float] = (float("nan"), float("nan"))
    median_ci: tuple[float, float] = (float("nan"), float("nan"))
    cells: tuple[Cell, ...] = ()

    @property
    def fraction_top1(self) -> float:
        return float("nan") if self.n_top1 is None or not self.n else self.n_top1 / self.n


@dataclass(frozen=True)
class RepairReport:
    """Bridge vs control injections on the heldout prompts the model gets wrong.

    ``fixed_*``: at (``layer``, ``scale``) chosen on the taught split, bridge and control alike;
    ``loo_bridge``: at the cell chosen with the bridge on the other wrong prompts (leave-one-out);
    ``loo_control_at_bridge``: the control at exactly the bridge's leave-one-out cells (the
    like-for-like control); ``loo_control``: the control choosing its own cells the same way;
    ``best_*``: at each prompt's own best cell of the grid (optimistic for any memory).
    """

    layer: int
    scale: float
    n_heldout: int
    n_wrong: int
    fixed_bridge: RepairStats
    fixed_control: RepairStats
    loo_bridge: RepairStats
    loo_control_at_bridge: RepairStats
    loo_control: RepairStats
    best_bridge: RepairStats
    best_control: RepairStats

    @property
    def loo_cells(self) -> tuple[Cell, ...]:
        """The bridge's leave-one-out cell of every wrong prompt."""
        return self.loo_bridge.cells


def repair_stats(gains: Iterable[float], threshold: float = REPAIR_THRESHOLD, top1: Sequence[bool] | None = None,
                 cells: Sequence[Cell] = ()) -> RepairStats:
    """Summarise ``(n,)`` gain ratios: count and fraction at or above ``threshold``, median, mean, with intervals.

    ``top1`` (one flag per gain) says which answers became top-1; ``cells`` where each gain was measured.
    """
    g = np.asarray(list(gains), dtype=np.float64)
    if g.size == 0:
        return RepairStats(0, float("nan"), float("nan"), float("nan"), threshold)
    if top1 is not None and len(top1) != g.size:
        raise MemorySpecError(f"{len(top1)} top-1 flags for {g.size} gains; give one per prompt")
    k = int((g >= threshold).sum())
    n_top1 = None if top1 is None else int(sum(bool(t) for t in top1))
    return RepairStats(
        int(g.size), k / g.size, float(np.median(g)), float(g.mean()), threshold, n_repaired=k, n_top1=n_top1,
        repaired_ci=wilson(k, g.size), top1_ci=wilson(n_top1, g.size) if n_top1 is not None else (float("nan"),) * 2,
        median_ci=bootstrap_median(g), cells=tuple((int(l), float(s)) for l, s in cells))


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
    return int(engine.trace(prompt).logits[-1].argmax()) == answer_token_id(engine, answer, prompt)


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


def gains_at_cells(sweep: LayerScaleSweep, cells: Sequence[Cell]) -> np.ndarray:
    """``(n_cases,)`` each case's gain at its own cell (one cell per case)."""
    if len(cells) != len(sweep.cases):
        raise MemorySpecError(f"{len(cells)} cells for {len(sweep.cases)} prompts; give one cell per prompt")
    return np.array([sweep.gain[(k, *sweep.cell(l, s))] for k, (l, s) in enumerate(cells)])


Top1 = Callable[[str, int, Cell], bool]


def summarise_repair(cell: Cell, bridge: LayerScaleSweep, control: LayerScaleSweep, n_heldout: int,
                     top1: Top1 | None = None) -> RepairReport:
    """The report from the wrong prompts' sweeps, case k of ``bridge`` and ``control`` being the same prompt.

    ``cell`` was chosen on the taught split. The control is scored at the bridge's own cells
    (taught and leave-one-out) and, separately, at cells it chooses for itself.
    ``top1(label, k, (layer, scale))`` says whether case k's answer is top-1 with that memory there.
    """
    n = len(bridge.cases)
    if len(control.cases) != n:
        raise MemorySpecError(f"{n} bridge cases but {len(control.cases)} control cases; pair them prompt by prompt")
    best = {}
    for label, sweep in (("bridge", bridge), ("control", control)):
        _, layers, scales = sweep.best_gains()
        best[label] = list(zip(layers.tolist(), scales.tolist()))
    loo_b = leave_one_out(bridge)[1] if n > 1 else []
    loo_c = leave_one_out(control)[1] if n > 1 else []

    def stats(label: str, cells: Sequence[Cell]) -> RepairStats:
        sweep = bridge if label == "bridge" else control
        flags = None if top1 is None else [top1(label, k, c) for k, c in enumerate(cells)]
        return repair_stats(gains_at_cells(sweep, cells), top1=flags, cells=cells)

    fixed = [cell] * n
    return RepairReport(cell[0], cell[1], n_heldout, n,
                        stats("bridge", fixed), stats("control", fixed),
                        stats("bridge", loo_b), stats("control", loo_b), stats("control", loo_c),
                        stats("bridge", best["bridge"]), stats("control", best["control"]))


def _top1_checker(engine: Engine, cases: Sequence[SweepCase], spec: SweepSpec) -> Top1:
    """``top1(label, k, cell)`` for the cases of one label each, by injecting at that cell again."""
    by_label: dict[str, list[SweepCase]] = {}
    for case in cases:
        by_label.setdefault(case.label, []).append(case)
    memories: dict[str, np.ndarray] = {}

    def top1(label: str, k: int, cell: Cell) -> bool:
        case = by_label[label][k]
        if case.memory not in memories:
            memories[case.memory] = build_memory(engine, case.memory, spec.source, spec.normalise)
        run = inject_run(engine, case.prompt, memories[case.memory], cell[0], cell[1], spec.positions)
        return int(run.logits[-1].argmax()) == answer_token_id(engine, case.answer, case.prompt)

    return top1


def repair_check(engine: Engine, prompts: Sequence, spec: SweepSpec = SweepSpec(),
                 progress: Progress | None = None) -> tuple[RepairReport, LayerScaleSweep, LayerScaleSweep]:
    """Sweep the taught split (to choose one cell) and the wrong heldout prompts (bridge and control).

    Reports the heldout gains and top-1 repairs at the taught cell, by leave-one-out (the control
    also at the bridge's cells) and at each prompt's own best cell. Returns the report, the taught
    sweep and the heldout sweep (for heatmaps).
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
    cell = choose_layer_scale(taught_sweep)
    cases = two_hop_cases(wrong)
    held = sweep_layer_scale(engine, cases, spec, heldout_progress)
    report = summarise_repair(cell, held.select("bridge"), held.select("control"), len(heldout),
                              _top1_checker(engine, cases, spec))
    return report, taught_sweep, held


def _pct(k: int | None, n: int, ci: tuple[float, float]) -> str:
    if k is None:
        return "-".center(22)
    return f"{k:>3}/{n:<3} {k / n:4.0%} [{ci[0]:3.0%}-{ci[1]:3.0%}]"


def format_stats(name: str, s: RepairStats) -> str:
    """One line: doubled and top-1 counts with 95% intervals, median gain with its interval, mean ratio."""
    if not s.n:
        return f"{name:<30} n=0"
    median = f"x{s.median_gain:<6.3g} [{s.median_ci[0]:.3g}-{s.median_ci[1]:.3g}]"
    return (f"{name:<30} {_pct(s.n_repaired, s.n, s.repaired_ci)}  {_pct(s.n_top1, s.n, s.top1_ci)}  "
            f"{median:<24}  x{s.mean_ratio:.4g}")


def _count_cells(cells: Sequence[Cell]) -> str:
    counts: dict[Cell, int] = {}
    for c in cells:
        counts[c] = counts.get(c, 0) + 1
    return ", ".join(f"L{l} τ{s:g} ×{n}" for (l, s), n in sorted(counts.items(), key=lambda kv: -kv[1]))


def format_report(r: RepairReport) -> str:
    """The report as printable lines: per method, doubled / top-1 / median gain with 95% intervals, then mean."""
    header = (f"{'memory @ cell':<30} {'doubled (95% CI)':<22}  {'became top-1 (95% CI)':<22}  "
              f"{'median gain (95% CI)':<24}  mean ratio")
    return "\n".join([
        f"heldout two-hop prompts: {r.n_heldout}, answered wrong (not top-1): {r.n_wrong}",
        f"layer/scale chosen on the taught split: layer {r.layer}, scale {r.scale:g}",
        header,
        format_stats("bridge  @ taught cell", r.fixed_bridge),
        format_stats("control @ taught cell", r.fixed_control),
        format_stats("bridge  @ leave-1-out", r.loo_bridge),
        format_stats("control @ bridge's l-1-o cell", r.loo_control_at_bridge),
        format_stats("control @ own leave-1-out", r.loo_control),
        format_stats("bridge  @ own best", r.best_bridge),
        format_stats("control @ own best", r.best_control),
        f"leave-one-out cells of the bridge (layer, scale): {_count_cells(r.loo_bridge.cells)}",
        f"leave-one-out cells of the control (its own):     {_count_cells(r.loo_control.cells)}",
    ])
