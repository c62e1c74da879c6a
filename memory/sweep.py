"""Layer x scale sweeps: inject each case's memory at every (layer, scale) and record the answer's
probability, in memory or as a resumable job.

The resumable job appends every measured cell to a CSV, so an interrupted run picks up where it
stopped. An output folder holds ``sweep.json`` (what was swept: model fingerprint, precision, device
kind, spec with its chunk size, a digest of the cases), ``sweep.csv`` (one row per case x layer x
scale, with its precision) and ``heatmap*.html``. Resuming with other settings is refused, not mixed,
and checked before anything is written. The job is the one resumable sweep job
(:func:`sweeps.run_job`): this module describes the grid (each case's layer x scale cells in fixed
chunks), the cell (:func:`chunk_p_after`) and the row.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from engine.engine import Engine
from engine.errors import listing
from engine.interventions import Positions
from engine.readout import gain_ratio
from engine.readout import Progress
from memory.inject import (MemorySource, MemorySpecError, SweepResumeError, answer_token_id, build_memory, check_scale,
                           inject_at)
from memory.plots import plot_layer_scale_heatmap
from sweeps import Identity, JobResult, Sweep, SweepFiles, run_job
from sweeps.chunks import fixed_chunks, unfinished
from sweeps.identity import digest, engine_identity
from sweeps.runners import LocalRunner, Runner


CellKey = tuple[str, int, float]
DEFAULT_SCALES: tuple[float, ...] = tuple(float(s) for s in range(1, 16))
# Cells of one case per batch, cut from its layer x scale grid at fixed boundaries (the same on resume and on Ray).
CHUNK = 64


@dataclass(frozen=True)
class SweepCase:
    """One prompt and one memory to inject into it; ``key`` is unique within a sweep, ``label`` groups cases
    (e.g. "bridge" or "control")."""

    key: str
    prompt: str
    answer: str
    memory: str
    label: str = "memory"


@dataclass(frozen=True)
class SweepSpec:
    """The grid and the memory recipe; ``layers=None`` means every layer (the paper: 0..n-1, scales 1..15).

    ``chunk`` cells of a case share a batch, cut from its grid (layer-major) at fixed boundaries.
    """

    layers: tuple[int, ...] | None = None
    scales: tuple[float, ...] = DEFAULT_SCALES
    source: MemorySource = "unembedding"
    normalise: bool = False
    positions: Positions = "all"
    chunk: int = CHUNK


@dataclass(frozen=True, eq=False)
class LayerScaleSweep:
    """Answer probabilities over a layer x scale grid.

    ``p_before``: ``(n_cases,)`` clean probability of each case's answer token;
    ``p_after``: ``(n_cases, n_layers, n_scales)`` with the memory injected.
    """

    cases: tuple[SweepCase, ...]
    layers: tuple[int, ...]
    scales: tuple[float, ...]
    p_before: np.ndarray
    p_after: np.ndarray
    spec: SweepSpec = field(default_factory=SweepSpec)

    @property
    def gain(self) -> np.ndarray:
        """``(n_cases, n_layers, n_scales)`` ratios p_after / p_before (see ``gain_ratio``)."""
        return gain_ratio(self.p_before[:, None, None], self.p_after)

    def select(self, label: str) -> "LayerScaleSweep":
        """The sub-sweep of cases whose label is ``label``."""
        keep = [i for i, c in enumerate(self.cases) if c.label == label]
        if not keep:
            raise MemorySpecError(f"no case is labelled {label!r}; labels here: {listing(sorted(self.labels))}")
        return LayerScaleSweep(tuple(self.cases[i] for i in keep), self.layers, self.scales,
                               self.p_before[keep], self.p_after[keep], self.spec)

    @property
    def labels(self) -> set[str]:
        """The distinct case labels."""
        return {c.label for c in self.cases}

    def cell(self, layer: int, scale: float) -> tuple[int, int]:
        """Grid indices of (layer, scale); MemorySpecError if the grid lacks them."""
        if layer not in self.layers or float(scale) not in self.scales:
            raise MemorySpecError(f"(layer {layer}, scale {scale}) is not in this sweep's grid "
                                  f"(layers {listing(self.layers)}; scales {listing(self.scales)})")
        return self.layers.index(layer), self.scales.index(float(scale))

    def gains_at(self, layer: int, scale: float) -> np.ndarray:
        """``(n_cases,)`` gains of every case at one grid cell."""
        i, j = self.cell(layer, scale)
        return self.gain[:, i, j]

    def best_gains(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per case, the best cell: ``(n_cases,)`` gains, layers and scales (an optimistic, per-prompt choice)."""
        flat = self.gain.reshape(len(self.cases), -1)
        arg = flat.argmax(axis=1)
        li, si = np.unravel_index(arg, self.gain.shape[1:])
        return flat[np.arange(len(arg)), arg], np.asarray(self.layers)[li], np.asarray(self.scales)[si]


def resolve_grid(engine, spec: SweepSpec) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """The (layers, scales) a spec names, checked against the model."""
    layers = tuple(range(engine.spec.n_layers)) if spec.layers is None else tuple(int(l) for l in spec.layers)
    if not layers or not spec.scales:
        raise MemorySpecError("a sweep needs at least one layer and one scale, e.g. --layers all --scales 1:15:1")
    for layer in layers:
        engine.check_layer(layer)
    for scale in spec.scales:
        check_scale(scale)
    if len(set(layers)) != len(layers) or len(set(spec.scales)) != len(spec.scales):
        raise MemorySpecError(f"layers ({listing(layers)}) and scales ({listing(spec.scales)}) must not repeat")
    if spec.chunk < 1:
        raise MemorySpecError(f"a chunk holds at least one cell, got {spec.chunk}")
    return layers, tuple(float(s) for s in spec.scales)


def check_cases(engine, cases: Sequence[SweepCase], spec: SweepSpec) -> None:
    """Refuse, before any work, cases a sweep cannot run: none, repeated keys, an answer or memory
    the tokenizer cannot take (the engine's own error, e.g. a multi-token answer)."""
    keys = [c.key for c in cases]
    if not cases:
        raise MemorySpecError("a sweep needs at least one prompt; check the prompt file and --split")
    if len(set(keys)) != len(keys):
        raise MemorySpecError("sweep case keys must be unique; number the prompts, e.g. '3:bridge'")
    for case in cases:
        answer_token_id(engine, case.answer, case.prompt)
    for memory in sorted({c.memory for c in cases}):
        build_memory(engine, memory, spec.source, spec.normalise)


Cell = tuple[int, int, float]  # (case index, layer, scale)


def case_p_after(engine, case: SweepCase, cells: Sequence[tuple[int, float]], spec: SweepSpec) -> list[float]:
    """The answer's probability with the case's memory injected at each (layer, scale), as one batch of runs."""
    answer = answer_token_id(engine, case.answer, case.prompt)
    vector = tuple(float(v) for v in build_memory(engine, case.memory, spec.source, spec.normalise))
    runs = [[inject_at(engine, vector, layer, scale, spec.positions)] for layer, scale in cells]
    return [r.readout(1, answer).target_mean for r in engine.run_batch(case.prompt, runs)]


def grid_chunks(n_cases: int, layers: Sequence[int], scales: Sequence[float], chunk: int) -> list[list[Cell]]:
    """Every cell, cut per case from its layer x scale grid (layer-major) every ``chunk`` cells: the same
    chunks in one process, on Ray and on resume, so every cell keeps its batch and its value."""
    grid = [(l, s) for l in layers for s in scales]
    return [[(c, l, s) for l, s in part] for c in range(n_cases) for part in fixed_chunks(grid, chunk)]


def chunk_p_after(engine, cells: Sequence[Cell], cases: Sequence[SweepCase], spec: SweepSpec) -> list[float]:
    """:func:`case_p_after` of one chunk (cells of one case): the task a runner (this process or a Ray worker) runs."""
    return case_p_after(engine, cases[cells[0][0]], [(l, s) for _, l, s in cells], spec)


def clean_answer_p(engine, cases: Sequence[SweepCase]) -> np.ndarray:
    """``(n_cases,)`` clean probability of each case's answer token."""
    return np.array([engine.run(c.prompt).readout(1, answer_token_id(engine, c.answer, c.prompt)).target_clean
                     for c in cases])


def sweep_layer_scale(
    engine,
    cases: Sequence[SweepCase],
    spec: SweepSpec = SweepSpec(),
    progress: Progress | None = None,
    known: Mapping[CellKey, float] | None = None,
    on_cell: Callable[[SweepCase, int, float, float, float], None] | None = None,
    runner: Runner | None = None,
) -> LayerScaleSweep:
    """Inject every case's memory at every (layer, scale) of the grid, in memory (the app's sweep; the
    resumable one writing a CSV is :func:`run_sweep_job`).

    ``known`` maps (case key, layer, scale) to an already measured p_after, so it is skipped
    (a chunk with a missing cell is recomputed whole, so every cell keeps its batch and its value);
    ``on_cell(case, layer, scale, p_before, p_after)`` is called once for each new cell;
    ``progress(done, total)`` after each cell. ``runner`` (default: this process, one batch per chunk;
    a ``sweeps.EnginePool`` runs on Ray workers).
    """
    check_cases(engine, cases, spec)
    layers, scales = resolve_grid(engine, spec)
    known = dict(known or {})
    total = len(cases) * len(layers) * len(scales)
    before = clean_answer_p(engine, cases)
    chunks = grid_chunks(len(cases), layers, scales, spec.chunk)
    work = unfinished(chunks, lambda cell: (cases[cell[0]].key, *cell[1:]) in known)
    done = sum((case.key, l, s) in known for case in cases for l in layers for s in scales)
    for cells, values in (runner or LocalRunner(engine)).map(chunk_p_after, work, tuple(cases), spec):
        for (c, layer, scale), hit in zip(cells, values):
            if (cases[c].key, layer, scale) in known:
                continue
            known[(cases[c].key, layer, scale)] = hit
            if on_cell is not None:
                on_cell(cases[c], layer, scale, float(before[c]), hit)
            done += 1
            if progress is not None:
                progress(done, total)
    return collect(cases, layers, scales, before, known, spec)


def collect(cases: Sequence[SweepCase], layers: tuple[int, ...], scales: tuple[float, ...], before: np.ndarray,
            known: Mapping[CellKey, float], spec: SweepSpec) -> LayerScaleSweep:
    """The sweep of measured cells ``known`` (every cell of the grid)."""
    p_after = np.array([[[known[(case.key, l, s)] for s in scales] for l in layers] for case in cases])
    return LayerScaleSweep(tuple(cases), layers, scales, before, p_after, spec)


log = logging.getLogger(__name__)

CSV_NAME = "sweep.csv"
META_NAME = "sweep.json"
COLUMNS = ("key", "label", "prompt", "answer", "memory", "layer", "scale", "dtype", "p_before", "p_after", "gain")


def sweep_identity(engine: Engine, cases: Sequence[SweepCase], spec: SweepSpec) -> dict:
    """What makes two sweeps the same job: the engine (model, precision, device kind, threads), the resolved
    grid, the recipe (with its chunk size) and a digest of the cases (the prompts after --split, --only-wrong)."""
    layers, scales = resolve_grid(engine, spec)
    recipe = asdict(spec) | {"layers": list(layers), "scales": list(scales)}
    return engine_identity(engine) | {"spec": recipe, "n_cases": len(cases),
                                      "cases_sha256": digest([asdict(c) for c in cases])}


def _stored_key(row: dict) -> CellKey | None:
    try:
        return row["key"], int(row["layer"]), float(row["scale"])
    except (KeyError, TypeError, ValueError):
        return None


def run_sweep_job(engine: Engine, cases: Sequence[SweepCase], spec: SweepSpec, out: Path,
                  progress: Progress | None = None, runner: Runner | None = None) -> LayerScaleSweep:
    """Run (or resume) a sweep whose rows go to ``out/sweep.csv``; writes heatmaps when done.

    The one resumable job (:func:`sweeps.run_job`) runs it: every argument is checked, and a folder of
    another sweep refused, before anything is written; while it runs, the folder's lock refuses a second
    writer. ``runner`` (default: this process, one batch per chunk; a ``sweeps.EnginePool`` runs on Ray
    workers) computes the chunks; this process writes every row.
    """
    out = Path(out)
    identity = Identity(sweep_identity(engine, cases, spec), SweepResumeError)
    check_cases(engine, cases, spec)
    layers, scales = resolve_grid(engine, spec)
    before = []

    def plan() -> Sweep:
        before.append(clean_answer_p(engine, cases))

        def rows(cell: Cell, p_after: float) -> list[dict]:
            c, layer, scale = cell
            p = float(before[0][c])
            return [asdict(cases[c]) | dict(layer=layer, scale=scale, dtype=engine.spec.dtype, p_before=repr(p),
                                            p_after=repr(float(p_after)), gain=repr(float(gain_ratio(p, p_after))))]

        return Sweep(chunks=grid_chunks(len(cases), layers, scales, spec.chunk), task=chunk_p_after, rows=rows,
                     key=lambda cell: (cases[cell[0]].key, *cell[1:]), stored_key=_stored_key,
                     args=(tuple(cases), spec))

    files = SweepFiles(out / CSV_NAME, out / META_NAME, COLUMNS)
    sweeps = []

    def finish(result: JobResult) -> None:
        known = {_stored_key(r): float(r["p_after"]) for r in result.kept} | result.values
        sweeps.append(collect(cases, layers, scales, before[0], known, spec))
        write_heatmaps(sweeps[0], out)

    run_job(engine, files, identity, plan, runner, progress, finish)
    return sweeps[0]


def write_heatmaps(sweep: LayerScaleSweep, out: Path) -> list[Path]:
    """One standalone HTML heatmap of median gain per case label, e.g. ``heatmap_bridge.html``."""
    paths = []
    for label in sorted(sweep.labels):
        path = Path(out) / f"heatmap_{label}.html"
        plot_layer_scale_heatmap(sweep, label=label).write_html(path, include_plotlyjs="directory")
        paths.append(path)
    return paths
