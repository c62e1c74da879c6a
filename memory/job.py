"""A sweep as a resumable job: every measured cell is appended to a CSV, so an interrupted run picks up where it stopped.

An output folder holds ``sweep.json`` (what was swept: model fingerprint,
precision, device kind, spec with its chunk size, a digest of the cases), ``sweep.csv``
(one row per case x layer x scale, with its precision) and ``heatmap*.html``. Resuming
with other settings is refused, not mixed, and checked before anything is written.
The folder is locked while the sweep runs, each row is flushed as it is
written, and a torn last line is dropped on resume (see :mod:`sweepio`).
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
from memory.sweep import (CellKey, Compute, LayerScaleSweep, Progress, SweepCase, SweepSpec, check_cases,
                          resolve_grid, sweep_layer_scale)
from sweepio import OutputLock, RowAppender, read_rows, rewrite_rows
from sweepio.meta import check_identity, digest, engine_identity, write_identity

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


def _parse_row(row: dict) -> tuple[CellKey, float] | None:
    try:
        return (row["key"], int(row["layer"]), float(row["scale"])), float(row["p_after"])
    except (KeyError, TypeError, ValueError):
        return None


def read_done_cells(path: Path) -> tuple[dict[CellKey, float], list[dict]]:
    """Cells already measured in ``path`` and their rows; a torn last line (from an interrupted run) is dropped."""
    done, rows = {}, []
    for row in read_rows(path, COLUMNS).rows:
        parsed = _parse_row(row)
        # A cell already seen (two writers before the lock existed) is kept once.
        if parsed is not None and parsed[0] not in done:
            done[parsed[0]] = parsed[1]
            rows.append(row)
    return done, rows


def run_sweep_job(engine: Engine, cases: Sequence[SweepCase], spec: SweepSpec, out: Path,
                  progress: Progress | None = None, compute: Compute | None = None) -> LayerScaleSweep:
    """Run (or resume) a sweep whose rows go to ``out/sweep.csv``; writes heatmaps when done.

    Every argument is checked, and a folder of another sweep refused, before anything is written.
    While it runs, the folder's lock refuses a second writer (:class:`sweepio.OutputLockedError`).
    ``compute`` (default: batched, in this process; ``pool_compute`` runs on Ray workers); this
    process writes every row.
    """
    out = Path(out)
    identity = sweep_identity(engine, cases, spec)
    check_cases(engine, cases, spec)
    path = out / CSV_NAME
    check_identity(out, identity, META_NAME, SweepResumeError, rows=path)
    read_rows(path, COLUMNS)
    with OutputLock(out):
        check_identity(out, identity, META_NAME, SweepResumeError, rows=path)
        done, rows = read_done_cells(path)
        if done:
            log.info("resuming %s: %d cell(s) already measured", path, len(done))
        write_identity(out, identity, META_NAME)
        rewrite_rows(path, COLUMNS, rows)
        with RowAppender(path, COLUMNS) as writer:
            def on_cell(case: SweepCase, layer: int, scale: float, p_before: float, p_after: float) -> None:
                gain = gain_ratio(p_before, p_after)
                writer.write(asdict(case) | dict(layer=layer, scale=scale, dtype=engine.spec.dtype,
                                                 p_before=repr(float(p_before)), p_after=repr(float(p_after)),
                                                 gain=repr(float(gain))))

            sweep = sweep_layer_scale(engine, cases, spec, progress, known=done, on_cell=on_cell, compute=compute)
        write_heatmaps(sweep, out)
    return sweep


def write_heatmaps(sweep: LayerScaleSweep, out: Path) -> list[Path]:
    """One standalone HTML heatmap of median gain per case label, e.g. ``heatmap_bridge.html``."""
    paths = []
    for label in sorted(sweep.labels):
        path = Path(out) / f"heatmap_{label}.html"
        plot_layer_scale_heatmap(sweep, label=label).write_html(path, include_plotlyjs="directory")
        paths.append(path)
    return paths
