"""Edit many facts with several methods and score each edit: the rows of ``python -m edit sweep`` and the bench."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from cluster.spec import Cluster, load_cluster
from edit.cases import EditCase
from edit.methods import apply_edit
from edit.robust import RobustnessCurves, robustness_curves
from edit.score import score_edit
from edit.spec import EditSpec
from engine.readout import Progress
from sweeps.chunks import fixed_chunks
from sweeps.runners import LocalRunner, Runner

CURVES = ("edited", "learned", "edited_random", "learned_random")


@dataclass(frozen=True)
class SweepSettings:
    """What a sweep measures besides the edit itself: the impairment and the damage text sample."""

    mode: str = "noise"
    intensities: tuple[float, ...] = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
    samples: int = 8
    seed: int = 0
    baseline_seeds: tuple[int, ...] = (0,)
    learned_neighbours: int = 4  # neighbours that join the edit prompt's old answer as learned facts
    clusters: str = ""  # a folder of topic clusters ("<topic>.json"); "" skips the robustness curves


def case_key(i: int, case: EditCase) -> str:
    """A stable row key: the case's index and its subject and relation."""
    return f"{i}:{case.fact.subject}:{case.fact.relation}"


def topic_cluster(folder: str, topic: str, engine) -> Cluster | None:
    """The topic's cluster in ``folder`` (``<topic>.json``), or None when there is none."""
    path = Path(folder) / f"{topic}.json"
    return load_cluster(path, engine) if folder and topic and path.is_file() else None


def edit_row(engine, key: str, case: EditCase, spec: EditSpec, settings: SweepSettings,
             key_texts: Sequence[str], heldout: Sequence[str], learned: dict) -> dict:
    """Apply one edit, score it, measure its robustness; one flat row (``learned`` caches per-case curves)."""
    result = apply_edit(engine, case.fact, spec, key_texts)
    scores = score_edit(engine, case, result.delta, heldout)
    fact = case.fact
    row = dict(key=key, relation=fact.relation, topic=case.topic, prompt=fact.prompt, subject=fact.subject,
               answer=fact.answer, new=fact.new, method=spec.method, label=spec.label, layer=spec.layer,
               steps=result.steps, p_trained=result.p_trained, efficacy=scores.efficacy,
               efficacy_p=scores.efficacy_p, generalisation=scores.generalisation,
               specificity=scores.specificity, damage=scores.damage)
    cluster = topic_cluster(settings.clusters, case.topic, engine)
    curves = None
    if cluster is not None:
        curves = robustness_curves(engine, case, result.delta, cluster, settings.mode, settings.intensities,
                                   settings.samples, settings.seed, settings.baseline_seeds,
                                   learned=learned.get(key), neighbours=settings.learned_neighbours)
        learned[key] = (curves.learned, curves.learned_random)
    return row | curve_columns(curves, len(settings.intensities))


def curve_columns(curves: RobustnessCurves | None, n: int) -> dict:
    """Halving intensities and the curves themselves (";"-joined) of one edit; nan without curves."""
    out = {}
    for name in CURVES:
        values = getattr(curves, name) if curves is not None else np.full(n, np.nan)
        out[f"halving_{name}"] = curves.halving(name) if curves is not None else math.nan
        out[f"curve_{name}"] = ";".join(f"{v:.4g}" for v in values)
    return out


Cell = tuple[int, int]  # (case index, spec index)


def edit_chunks(n_cases: int, n_specs: int, chunk: int | None = None) -> list[list[Cell]]:
    """Every (case, spec) cell, case-major, cut every ``chunk`` cells (default: one case's specs, so a
    case's learned curves are measured once). Each cell is its own edit, so its row does not depend on
    the chunk: ``chunk`` only sets how much one task (one Ray task) does."""
    cells = [(i, j) for i in range(n_cases) for j in range(n_specs)]
    return fixed_chunks(cells, chunk or max(1, n_specs))


def chunk_rows(engine, cells: Sequence[Cell], cases: Sequence[EditCase], specs: Sequence[EditSpec],
               settings: SweepSettings, key_texts: Sequence[str] = (), heldout: Sequence[str] = ()) -> list[dict]:
    """:func:`edit_row` of each cell of a chunk, one after another (the task a runner, here or a Ray worker, runs)."""
    learned: dict = {}
    return [edit_row(engine, case_key(i, cases[i]), cases[i], specs[j], settings, key_texts, heldout, learned)
            for i, j in cells]


def sweep_edits(engine, cases: Sequence[EditCase], specs: Sequence[EditSpec], settings: SweepSettings,
                key_texts: Sequence[str] = (), heldout: Sequence[str] = (), progress: Progress | None = None,
                runner: Runner | None = None, chunk: int | None = None) -> list[dict]:
    """Every (case, spec) row, case-major, in memory (the resumable sweep writing a CSV is ``edit.job``).

    ``runner`` (default: this process; a ``sweeps.EnginePool`` runs on Ray workers) computes ``chunk``
    cells per task (see :func:`edit_chunks`).
    """
    chunks = edit_chunks(len(cases), len(specs), chunk)
    found, total = {}, len(cases) * len(specs)
    for cells, rows in (runner or LocalRunner(engine)).map(chunk_rows, chunks, tuple(cases), tuple(specs),
                                                           task_settings(settings), tuple(key_texts), tuple(heldout)):
        for cell, row in zip(cells, rows):
            found[cell] = row
            if progress is not None:
                progress(len(found), total)
    return [found[cell] for part in chunks for cell in part]


def task_settings(settings: SweepSettings) -> SweepSettings:
    """``settings`` with its clusters folder as an absolute path, since a Ray worker may run in another folder."""
    return replace(settings, clusters=str(Path(settings.clusters).resolve())) if settings.clusters else settings


def method_specs(methods: Sequence[str], base: EditSpec) -> list[EditSpec]:
    """One spec per method, sharing ``base``'s layer, rank, alpha and budget."""
    return [replace(base, method=m) for m in methods]
