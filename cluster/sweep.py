"""Command-line sweeps: one CSV row per topic x mode x intensity x seed, resumable.

The sweep is a description of its grid (the points of :class:`SweepSpec`, in fixed chunks),
its cell (:func:`chunk_values`) and its rows (one per topic); :func:`sweeps.run_job` runs it:
the CSV is locked while the sweep runs, each row is flushed as it is written, a torn last line is
dropped on resume, and the sweep's identity (model, precision, prompts, every setting that changes a
number) is kept beside the CSV, so a resumed sweep writes the bytes an uninterrupted one does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from cli.args import UsageError, read_range
from cluster.curves import CLEAN_COLUMNS, NOISY_MODES
from cluster.errors import ClusterError
from cluster.impair import METRICS, EvalSet, impairs, random_cluster, score, score_batch
from cluster.inputs import Progress, unit_means
from cluster.spec import Cluster, check_cluster, site_width
from engine import Engine
from engine.interventions import IMPAIR_MODES
from sweeps import Identity, Runner, Sweep, SweepFiles, run_job
from sweeps import read_rows as read_stored
from sweeps.chunks import fixed_chunks
from sweeps.identity import digest, engine_identity

HEADER = ("model", "dtype", "cluster", "site", "split", "kind", "mode", "intensity", "seed", "topic", "n_prompts",
          *METRICS, *CLEAN_COLUMNS)
# A CSV holds one sweep: these columns must match for its rows to be resumed.
IDENTITY = ("model", "dtype", "cluster", "site", "split")
# Points per batch; a Ray sweep and a resume cut the same chunks, so each batch, and each number, is the same.
CHUNK = 16


@dataclass(frozen=True)
class SweepSpec:
    """What to sweep: impairment modes x intensities x seeds, for the cluster and (optionally) random clusters.

    A "random" row with seed s impairs a random cluster drawn with seed s. ``chunk`` points
    share a batch, cut from :meth:`points` at fixed boundaries.
    """

    modes: tuple[str, ...]
    intensities: tuple[float, ...]
    seeds: tuple[int, ...] = (0,)
    samples: int = 1
    baseline: bool = True
    chunk: int = CHUNK

    def __post_init__(self) -> None:
        bad = [m for m in self.modes if m not in IMPAIR_MODES]
        if bad or not self.modes:
            raise ClusterError(f"unknown or no modes {bad}; use some of {', '.join(IMPAIR_MODES)}")
        if not self.intensities or not self.seeds:
            raise ClusterError("a sweep needs at least one intensity and one seed")
        if self.samples < 1:
            raise ClusterError(f"samples must be at least 1, got {self.samples}")
        if self.chunk < 1:
            raise ClusterError(f"a chunk holds at least one point, got {self.chunk}")

    def points(self) -> Iterator[tuple[str, str, float, int]]:
        """Every (kind, mode, intensity, seed) the sweep computes."""
        kinds = ("cluster", "random") if self.baseline else ("cluster",)
        for mode in self.modes:
            for x in self.intensities:
                for seed in self.seeds:
                    for kind in kinds:
                        yield kind, mode, x, seed


def parse_intensities(text: str) -> tuple[float, ...]:
    """``"start:stop:step"`` (stop included) or a comma list, e.g. ``"0:2:0.1"`` or ``"0,0.5,1"``
    (:func:`cli.args.read_range`, the reader of every range flag); ClusterError if unreadable."""
    try:
        return read_range(text, float, step_required=True)
    except UsageError as err:
        raise ClusterError(str(err)) from None


def read_rows(path: Path) -> list[dict[str, str]]:
    """The complete rows of a sweep CSV (empty if it does not exist); a line cut short is left out."""
    return list(read_stored(path, HEADER).rows)


def row_key(kind: str, mode: str, intensity: float | str, seed: int | str) -> tuple[str, str, float, int]:
    """The key that identifies one computed point, tolerant of float formatting."""
    return kind, mode, round(float(intensity), 9), int(seed)


Point = tuple[str, str, float, int]


def point_values(engine: Engine, cluster: Cluster, evalset: EvalSet, points: list[Point], samples: int,
                 means: np.ndarray | None) -> list[np.ndarray]:
    """``(len(METRICS), n_topics)`` per point: each prompt's runs in one batch (``score_batch``).

    Deterministic modes give the same numbers for every seed of the cluster itself, so those run once.
    """
    width = site_width(engine.spec, cluster.site)
    keys, runs = {}, []
    for kind, mode, x, seed in points:
        if _run_key(kind, mode, x, seed) not in keys:
            target = cluster if kind == "cluster" else random_cluster(cluster, width, seed)
            keys[_run_key(kind, mode, x, seed)] = len(runs)
            runs.append(impairs(target, mode, x, seed=seed, means=means))
    values = score_batch(engine, evalset, runs, samples=samples)
    return [values[keys[_run_key(*point)]] for point in points]


def _run_key(kind: str, mode: str, x: float, seed: int) -> Point:
    """Points with the same run: a deterministic mode on the cluster itself is the same for every seed."""
    return kind, mode, x, seed if (kind == "random" or mode in NOISY_MODES) else 0


def chunk_values(engine: Engine, points: Sequence[Point], cluster: Cluster, evalset: EvalSet, samples: int,
                 means: np.ndarray | None) -> list[np.ndarray]:
    """:func:`point_values` of one chunk, the engine and the chunk first: the task a runner (this process or a
    Ray worker) runs, one batch per chunk, so each number is the one every run computes."""
    return point_values(engine, cluster, evalset, list(points), samples, means)


def run_sweep(engine: Engine, cluster: Cluster, evalset: EvalSet, spec: SweepSpec, csv_path: Path,
              progress: Progress | None = None, runner: Runner | None = None) -> int:
    """Compute the sweep's missing points and append their rows to ``csv_path``; returns how many points ran.

    The one resumable job (:func:`sweeps.run_job`) runs it: points already in the CSV are skipped,
    rows of a point left half-written are dropped and recomputed, a chunk with a missing point is
    recomputed whole, a CSV of another sweep (see :func:`sweep_identity`) is refused before anything
    is written, and while it runs the CSV's lock refuses a second writer. ``runner`` (default: this
    process; a ``sweeps.EnginePool`` runs on Ray workers) computes the chunks; this process writes the rows.
    """
    check_cluster(cluster, engine.spec)
    csv_path = Path(csv_path)
    meta = meta_path(csv_path)
    columns = {"model": engine.spec.fingerprint[:16], "dtype": engine.spec.dtype, "cluster": cluster.name,
               "site": cluster.site, "split": str(evalset.split)}
    identity = Identity(sweep_identity(engine, cluster, evalset, spec), ClusterError,
                        fresh=f"delete {csv_path.name} and {meta.name}", columns=columns)

    def plan() -> Sweep:
        clean = score(engine, evalset)
        means = sweep_means(engine, evalset, cluster, spec)
        counts = evalset.counts()

        def rows(point: Point, values: np.ndarray) -> list[list]:
            kind, mode, x, seed = point
            return [[*columns.values(), kind, mode, repr(float(x)), seed, topic, int(counts[t]),
                     *(f"{v:.6g}" for v in values[:, t]), *(f"{v:.6g}" for v in clean[:3, t])]
                    for t, topic in enumerate(evalset.topics)]

        return Sweep(chunks=fixed_chunks(list(spec.points()), spec.chunk), task=chunk_values, rows=rows,
                     key=lambda p: row_key(*p), stored_key=lambda r: row_key(r["kind"], r["mode"], r["intensity"],
                                                                             r["seed"]),
                     args=(cluster, evalset, spec.samples, means), parts=len(evalset.topics),
                     part=lambda r: r["topic"])

    files = SweepFiles(csv_path, meta, HEADER, whole_folder=False)
    return run_job(engine, files, identity, plan, runner, progress).ran


def sweep_identity(engine: Engine, cluster: Cluster, evalset: EvalSet, spec: SweepSpec) -> dict:
    """Everything that changes the sweep's numbers: model, precision, device kind, torch threads, cluster units,
    prompts, grid."""
    prompts = digest([evalset.prompts, evalset.answers, evalset.topics, evalset.topic_index.tolist()])
    return engine_identity(engine) | {"cluster": cluster.name, "site": cluster.site, "units": digest(cluster.neurons),
                                      "split": str(evalset.split), "prompts": prompts, "spec": asdict(spec)}


def meta_path(csv_path: Path) -> Path:
    """The identity file kept beside a sweep CSV: ``<name>.json``."""
    return Path(csv_path).with_suffix(".json")


def sweep_means(engine: Engine, evalset: EvalSet, cluster: Cluster, spec: SweepSpec) -> np.ndarray | None:
    """The units' clean means over the prompts when the sweep has mode "mean" (else None)."""
    return unit_means(engine, evalset.prompts, cluster.site) if "mean" in spec.modes else None
