"""Does injecting the missing bridge entity repair two-hop prompts the model gets wrong, and a control
not; is the repair composition or a direct push toward the answer; and the 95% intervals both report
(Wilson for fractions, bootstrap for medians).

The control is judged like for like: at the very cells the bridge was given. Three ways
to pick the bridge's (layer, scale): one cell chosen on the *taught* split and used for
every heldout prompt; leave-one-out over the wrong heldout prompts (each prompt gets the
cell that is best for the others, so it is never judged by a choice made on itself); and
each prompt's own best cell (optimistic: a per-prompt maximum favours any injection,
control included). The control choosing its own leave-one-out cells is reported too: it
tends to pick the gentlest scale, a near no-op, so it alone would flatter the bridge.
Each figure comes with a 95% interval: the wrong prompts are few.

Composition or direct push: a memory is a sum of unembedding rows; with tied embeddings it can
point at the answer's own row, and then it raises the answer without any layer composing anything.
Controls that separate the two, each injected at the bridge's own (layer, scale) cell:

- the bridge with the answer's unembedding direction projected out, and with every
  candidate answer's (all entities of the answer's type) projected out;
- the bridge added after the last block (to the final residual, before the final norm),
  where no layer can compose: what it does there is the direct path;
- a control entity of the bridge's type whose memory has the cosine with the answer's
  row closest to the bridge's (a control as aligned with the answer as the bridge is):
  from every entity of that type ("any"; it may itself be a bridge to the same answer, e.g.
  another founder born in the same city), and from those that are not ("other answer").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
import torch

from engine.engine import Engine
from engine.readout import gain_ratio
from memory.inject import MemorySpecError, answer_token_id, build_memory, inject_run
from memory.sweep import LayerScaleSweep, Progress, SweepCase, SweepSpec, resolve_grid, sweep_layer_scale


Z95 = 1.959963984540054
BOOTSTRAP_RESAMPLES = 2000


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a fraction ``k / n`` (nan, nan when ``n`` is 0).

    Unlike the normal approximation it stays inside [0, 1] and is not empty at 0 or n successes.
    """
    if n <= 0:
        return float("nan"), float("nan")
    if not 0 <= k <= n:
        raise ValueError(f"k must be between 0 and n={n}, got {k}")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_median(values: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap 95% interval of the median of ``(n,)`` values; seeded, so reports are reproducible."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    medians = np.median(v[rng.integers(0, v.size, size=(resamples, v.size))], axis=1)
    low, high = np.percentile(medians, [2.5, 97.5])
    return float(low), float(high)


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


VARIANTS: tuple[str, ...] = ("bridge", "bridge - answer", "bridge - candidates", "bridge after last block",
                             "control, cos-matched, any", "control, cos-matched, other", "control (shipped)")


def unembedding_rows(engine: Engine, answers: Sequence[str], prompt: str | None = None) -> np.ndarray:
    """``(k, d_model)`` the unembedding rows of the answers' first tokens as predicted after ``prompt``
    (unique, in order; without a prompt, as the answers read mid-prompt)."""
    ids = list(dict.fromkeys(engine.token_id(a, "answer", first=True, prompt=prompt) for a in answers))
    return engine.W_U[:, ids].T.numpy().astype(np.float64)


def project_out(vector: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """``(d_model,)`` ``vector`` minus its projection on the span of ``(k, d_model)`` ``directions``."""
    v = np.asarray(vector, dtype=np.float64)
    d = np.atleast_2d(np.asarray(directions, dtype=np.float64))
    if d.size == 0:
        return v.astype(np.float32)
    q, _ = np.linalg.qr(d.T)
    return (v - q @ (q.T @ v)).astype(np.float32)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of two ``(d,)`` vectors (0 where either is zero)."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return 0.0 if na == 0.0 or nb == 0.0 else float(np.dot(a, b) / (na * nb))


def matched_control(engine: Engine, pool: Sequence[str], answer_row: np.ndarray, target: float,
                    exclude: Sequence[str] = ()) -> tuple[str, float]:
    """The entity of ``pool`` (not in ``exclude``) whose memory's cosine with ``answer_row`` is closest to ``target``."""
    best: tuple[float, str, float] | None = None
    for entity in dict.fromkeys(pool):
        if entity in exclude:
            continue
        c = cosine(build_memory(engine, entity), answer_row)
        if best is None or abs(c - target) < best[0]:
            best = (abs(c - target), entity, c)
    if best is None:
        raise MemorySpecError("no control entity is left once the bridge and answer are excluded; give more prompts")
    return best[1], best[2]


def direct_gain(engine: Engine, prompt: str, vector: np.ndarray, scale: float, answer: str) -> tuple[float, bool]:
    """The answer's gain, and whether it is top-1, with ``scale * vector`` added to the last position's final
    residual (before the final norm): the direct path, which no layer reads."""
    trace = engine.trace(prompt)
    a = answer_token_id(engine, answer, prompt)
    resid = trace.resid[-1, -1] + float(scale) * torch.as_tensor(vector, dtype=torch.float32)
    before = torch.softmax(trace.logits[-1].double(), dim=-1)[a]
    logits = engine.unembed(resid).double()
    after = torch.softmax(logits, dim=-1)[a]
    return gain_ratio(float(before), float(after)), int(logits.argmax()) == a


def _gain(engine: Engine, prompt: str, vector: np.ndarray, cell: Cell, answer: str) -> tuple[float, bool]:
    """Gain of the answer and whether it is top-1 with ``vector`` injected at ``cell``."""
    run = inject_run(engine, prompt, vector, cell[0], cell[1])
    a = answer_token_id(engine, answer, prompt)
    readout = run.readout(1, a)
    return gain_ratio(readout.target_clean, readout.target_mean), int(run.logits[-1].argmax()) == a


@dataclass(frozen=True)
class Decomposition:
    """Per variant (``VARIANTS``), the gains of the same ``n`` prompts at the bridge's cells, plus cosines.

    ``gains``: variant -> ``(n,)``; ``top1``: variant -> ``(n,)`` flags;
    ``cos``: variant -> ``(n,)`` cosine of its memory with the answer's unembedding row (controls and bridge);
    ``matched``: the cosine-matched controls' entities, "any" then "other answer", per prompt.
    """

    gains: dict[str, np.ndarray]
    top1: dict[str, np.ndarray]
    cos: dict[str, np.ndarray]
    matched: tuple[tuple[str, str], ...]

    def stats(self, variant: str) -> RepairStats:
        """Doubled / top-1 counts and median gain of one variant, with 95% intervals."""
        return repair_stats(self.gains[variant], top1=list(self.top1[variant]))


def decompose(engine: Engine, prompts: Sequence, cells: Sequence[Cell], all_prompts: Sequence) -> Decomposition:
    """Inject every variant into each of ``prompts`` (two-hop prompts) at its own cell of ``cells``.

    ``all_prompts`` give the entity pools: candidate answers are the answers, and cosine-matched
    controls the bridges, of the prompts of the same relation.
    """
    if len(cells) != len(prompts):
        raise MemorySpecError(f"{len(cells)} cells for {len(prompts)} prompts; give one cell per prompt")
    gains: dict[str, list[float]] = {v: [] for v in VARIANTS}
    top1: dict[str, list[bool]] = {v: [] for v in VARIANTS}
    cos: dict[str, list[float]] = {}
    matched = []
    for p, cell in zip(prompts, cells):
        vectors, names = _variants(engine, p, [q for q in all_prompts if q.relation == p.relation])
        matched.append(names)
        row = unembedding_rows(engine, [p.answer], p.prompt)[0]
        for variant, vec in vectors.items():
            g, t = _gain(engine, p.prompt, vec, cell, p.answer)
            gains[variant].append(g)
            top1[variant].append(t)
            cos.setdefault(variant, []).append(cosine(vec, row))
        g, t = direct_gain(engine, p.prompt, vectors["bridge"], cell[1], p.answer)
        gains["bridge after last block"].append(g)
        top1["bridge after last block"].append(t)
    return Decomposition({v: np.array(g) for v, g in gains.items()}, {v: np.array(t) for v, t in top1.items()},
                         {v: np.array(c) for v, c in cos.items()}, tuple(matched))


def _variants(engine: Engine, p, same: Sequence) -> tuple[dict[str, np.ndarray], tuple[str, str]]:
    """The memory vectors injected into two-hop prompt ``p`` (``same``: the prompts of its relation)."""
    row = unembedding_rows(engine, [p.answer], p.prompt)[0]
    bridge = build_memory(engine, p.bridge)
    target = cosine(bridge, row)
    pool = [q.bridge for q in same]
    # A bridge of another prompt with the same answer would carry the answer by composition too.
    same_answer = tuple(q.bridge for q in same if q.answer == p.answer)
    any_name, _ = matched_control(engine, pool, row, target, exclude=(p.bridge, p.answer))
    other_name, _ = matched_control(engine, pool, row, target, exclude=(p.bridge, p.answer, *same_answer))
    return {
        "bridge": bridge,
        "bridge - answer": project_out(bridge, row[None]),
        "bridge - candidates": project_out(bridge, unembedding_rows(engine, [q.answer for q in same], p.prompt)),
        "control, cos-matched, any": build_memory(engine, any_name),
        "control, cos-matched, other": build_memory(engine, other_name),
        "control (shipped)": build_memory(engine, p.control),
    }, (any_name, other_name)


def surviving_share(full: np.ndarray, part: np.ndarray, threshold: float = REPAIR_THRESHOLD) -> tuple[int, int, tuple[float, float]]:
    """Of the prompts ``full`` repairs (gain >= threshold), how many ``part`` still repairs: (k, n, Wilson 95%)."""
    repaired = np.asarray(full) >= threshold
    n = int(repaired.sum())
    k = int((np.asarray(part)[repaired] >= threshold).sum())
    return k, n, wilson(k, n)


def log_gain_share(full: np.ndarray, part: np.ndarray, seed: int = 0) -> tuple[float, tuple[float, float]]:
    """Median over prompts the bridge helps of log(part gain) / log(full gain), with a 95% bootstrap interval."""
    full, part = np.asarray(full, dtype=np.float64), np.asarray(part, dtype=np.float64)
    keep = full > 1.0
    if not keep.any():
        return float("nan"), (float("nan"), float("nan"))
    share = np.log(np.maximum(part[keep], 1e-300)) / np.log(full[keep])
    return float(np.median(share)), bootstrap_median(share, seed=seed)


def format_decomposition(d: Decomposition) -> str:
    """The decomposition as printable lines: one row per variant, then cosines and composition shares."""
    full = d.gains["bridge"]
    lines = [f"{'variant @ bridge cell':<30} {'doubled (95% CI)':<22}  {'became top-1 (95% CI)':<22}  "
             f"{'median gain (95% CI)':<24}  mean ratio"]
    lines += [format_stats(v, d.stats(v)) for v in VARIANTS]
    lines.append("cosine of the memory with the answer's unembedding row (median): "
                 + ", ".join(f"{v} {np.median(c):.2f}" for v, c in d.cos.items()))
    for part in ("bridge - answer", "bridge - candidates", "bridge after last block"):
        k, n, ci = surviving_share(full, d.gains[part])
        med, (lo, hi) = log_gain_share(full, d.gains[part])
        lines.append(f"{part:<24}: keeps {k}/{n} of the bridge's repairs ({k / max(n, 1):.0%}, {ci[0]:.0%}-{ci[1]:.0%}); "
                     f"median share of the bridge's log gain {med:.2f} ({lo:.2f}-{hi:.2f})")
    lines += composition_claims(d)
    return "\n".join(lines)


def composition_claims(d: Decomposition) -> list[str]:
    """Claims about composition, each printed True or False: a variant doubles more prompts than a control,
    their 95% Wilson intervals apart."""
    pairs = (("bridge", "control, cos-matched, other"), ("bridge - candidates", "control (shipped)"),
             ("bridge - candidates", "control, cos-matched, other"), ("bridge", "bridge after last block"))
    out = []
    for a, b in pairs:
        sa, sb = d.stats(a), d.stats(b)
        out.append(f"claim: {a} doubles more prompts than {b} ({sa.n_repaired} vs {sb.n_repaired} of {sa.n}), "
                   f"95% intervals apart: {sb.repaired_ci[1] < sa.repaired_ci[0]}")
    return out
