"""A sweep as a resumable job: every measured cell is appended to a CSV, so an interrupted run picks up where it stopped.

An output folder holds ``sweep.json`` (what was swept: model fingerprint,
precision, device kind, spec with its chunk size, a digest of the cases), ``sweep.csv``
(one row per case x layer x scale, with its precision) and ``heatmap*.html``. Resuming
with other settings is refused, not mixed, and checked before anything is written.
The job is the one resumable sweep job (:func:`sweeps.run_job`): this module describes the grid
(each case's layer x scale cells in fixed chunks), the cell (:func:`memory.sweep.chunk_p_after`) and the row.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from engine.engine import Engine
from engine.readout import gain_ratio
from memory.errors import SweepResumeError
from memory.plots import plot_layer_scale_heatmap
from memory.sweep import (Cell, CellKey, LayerScaleSweep, Progress, SweepCase, SweepSpec, check_cases,
                          chunk_p_after, clean_answer_p, collect, grid_chunks, resolve_grid)
from sweeps import Identity, JobResult, Runner, Sweep, SweepFiles, run_job
from sweeps.identity import digest, engine_identity

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
