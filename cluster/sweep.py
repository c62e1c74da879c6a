"""Command-line sweeps: one CSV row per topic x mode x intensity x seed, resumable.

The CSV is written through :mod:`sweepio`: its folder is locked while the sweep
runs, each row is flushed as it is written, and a torn last line is dropped on resume.
Points are computed in fixed chunks of the grid (the same in one process, on Ray and on
resume), and the sweep's identity (model, precision, prompts, every setting that changes a
number) is kept beside the CSV, so a resumed sweep writes the bytes an uninterrupted one does.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from cli.args import UsageError, read_range
from cluster.curves import CLEAN_COLUMNS, NOISY_MODES
from cluster.errors import ClusterError
from cluster.impair import METRICS, EvalSet, impairs, random_cluster, score, score_batch
from cluster.inputs import Progress, unit_means
from cluster.spec import Cluster, check_cluster, site_width
from engine import Engine
from engine.interventions import IMPAIR_MODES
from sweepio import OutputLock, RowAppender, StoredRows, rewrite_rows
from sweepio import read_rows as read_stored
from sweepio.chunks import chunks_to_run
from sweepio.meta import check_identity, digest, engine_identity, write_identity

logger = logging.getLogger(__name__)
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
# Computes the values of chunks of points, one batch each; yields (chunk, its values) in any order.
Compute = Callable[[list[list[Point]]], Iterator[tuple[list[Point], list[np.ndarray]]]]


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


def local_compute(engine: Engine, cluster: Cluster, evalset: EvalSet, spec: SweepSpec,
                  means: np.ndarray | None) -> Compute:
    """Compute chunks in this process, one batch per chunk, in order."""
    def compute(chunks: list[list[Point]]) -> Iterator[tuple[list[Point], list[np.ndarray]]]:
        for part in chunks:
            yield part, point_values(engine, cluster, evalset, part, spec.samples, means)
    return compute


def pool_compute(pool: Any, cluster: Cluster, evalset: EvalSet, spec: SweepSpec, means: np.ndarray | None) -> Compute:
    """Compute chunks on a pool of engines (``ray_sweeps.EnginePool``), one task and one batch per chunk,
    so each number is the one a one-process sweep computes."""
    def compute(chunks: list[list[Point]]) -> Iterator[tuple[list[Point], list[np.ndarray]]]:
        yield from pool.map(_chunk_values, chunks, cluster, evalset, spec.samples, means)
    return compute


def _chunk_values(engine: Engine, points: list[Point], cluster: Cluster, evalset: EvalSet, samples: int,
                  means: np.ndarray | None) -> list[np.ndarray]:
    """:func:`point_values` with the engine and the chunk first (the task a pool worker runs)."""
    return point_values(engine, cluster, evalset, points, samples, means)


def run_sweep(engine: Engine, cluster: Cluster, evalset: EvalSet, spec: SweepSpec, csv_path: Path,
              progress: Progress | None = None, compute: Compute | None = None) -> int:
    """Compute the sweep's missing points and append their rows to ``csv_path``; returns how many points ran.

    Points already in the CSV are skipped, so an interrupted sweep resumes where
    it stopped; rows of a point left half-written are dropped and recomputed. A chunk
    with a missing point is recomputed whole, so every point keeps its batch.
    A CSV of another sweep (see :func:`sweep_identity`) is refused before anything is written.
    While it runs, the CSV's lock refuses a second writer (:class:`sweepio.OutputLockedError`).
    ``compute`` (default: batched, in this process; :func:`pool_compute` runs on Ray workers)
    yields values in any order; this process writes every point's rows exactly once.
    """
    check_cluster(cluster, engine.spec)
    identity = sweep_identity(engine, cluster, evalset, spec)
    columns = {"model": engine.spec.fingerprint[:16], "dtype": engine.spec.dtype, "cluster": cluster.name,
               "site": cluster.site, "split": str(evalset.split)}
    check_sweep_file(csv_path, identity, columns)
    with OutputLock.beside(csv_path):
        check_sweep_file(csv_path, identity, columns)
        return _run_locked(engine, cluster, evalset, spec, csv_path, progress, compute, identity, columns)


def sweep_identity(engine: Engine, cluster: Cluster, evalset: EvalSet, spec: SweepSpec) -> dict:
    """Everything that changes the sweep's numbers: model, precision, device kind, torch threads, cluster units,
    prompts, grid."""
    prompts = digest([evalset.prompts, evalset.answers, evalset.topics, evalset.topic_index.tolist()])
    return engine_identity(engine) | {"cluster": cluster.name, "site": cluster.site, "units": digest(cluster.neurons),
                                      "split": str(evalset.split), "prompts": prompts, "spec": asdict(spec)}


def meta_path(csv_path: Path) -> Path:
    """The identity file kept beside a sweep CSV: ``<name>.json``."""
    return Path(csv_path).with_suffix(".json")


def check_sweep_file(csv_path: Path, identity: dict, columns: dict[str, str]) -> None:
    """Raise ClusterError unless ``csv_path`` is absent or holds this sweep (identity file and rows); reads only."""
    csv_path, meta = Path(csv_path), meta_path(csv_path)
    fresh = f"delete {csv_path.name} and {meta.name}"
    check_identity(csv_path.parent, identity, meta.name, ClusterError, rows=csv_path, fresh=fresh)
    for r in read_stored(csv_path, HEADER).rows[:1]:
        found = {k: r[k] for k in IDENTITY}
        if found != columns:
            raise ClusterError(f"{csv_path} holds rows of {found}, not of {columns}; start fresh with another "
                               f"--out, or {fresh}")


def _run_locked(engine: Engine, cluster: Cluster, evalset: EvalSet, spec: SweepSpec, csv_path: Path,
                progress: Progress | None, compute: Compute | None, identity: dict, columns: dict[str, str]) -> int:
    clean = score(engine, evalset)
    if compute is None:
        compute = local_compute(engine, cluster, evalset, spec, sweep_means(engine, evalset, cluster, spec))
    write_identity(csv_path.parent, identity, meta_path(csv_path).name)
    have = _prepare_csv(csv_path, len(evalset.topics))
    points = list(spec.points())
    missing = sum(row_key(*p) not in have for p in points)
    chunks = chunks_to_run(points, spec.chunk, lambda p: row_key(*p) in have)
    written: set[tuple[str, str, float, int]] = set()
    with RowAppender(csv_path, HEADER) as writer:
        for part, values in compute(chunks):
            for point, value in zip(part, values):
                if row_key(*point) in have or row_key(*point) in written:
                    continue
                written.add(row_key(*point))
                _write_point(writer, columns, evalset, clean, value, point)
                if progress is not None:
                    progress(len(written), missing)
    return len(written)


def sweep_means(engine: Engine, evalset: EvalSet, cluster: Cluster, spec: SweepSpec) -> np.ndarray | None:
    """The units' clean means over the prompts when the sweep has mode "mean" (else None)."""
    return unit_means(engine, evalset.prompts, cluster.site) if "mean" in spec.modes else None


def _prepare_csv(path: Path, n_topics: int) -> set[tuple[str, str, float, int]]:
    """Keep only the CSV's complete points (its header written if it had none), and return their keys."""
    stored: StoredRows = read_stored(path, HEADER)
    have = _complete_points(stored.rows, n_topics)
    kept, seen = [], set()
    for r in stored.rows:
        key = row_key(r["kind"], r["mode"], r["intensity"], r["seed"])
        # A row already seen (two writers before the lock existed) is dropped, not counted twice.
        if key in have and (key, r["topic"]) not in seen:
            seen.add((key, r["topic"]))
            kept.append(r)
    if path.is_file() and path.stat().st_size and not stored.dropped and len(kept) == len(stored.rows):
        return have
    if len(kept) < len(stored.rows):
        logger.warning("%s: dropping %d rows of interrupted points or repeated rows; missing points are recomputed",
                       path, len(stored.rows) - len(kept))
    rewrite_rows(path, HEADER, kept)
    return have


def _complete_points(rows: tuple[dict[str, str], ...], n_topics: int) -> set[tuple[str, str, float, int]]:
    """The points whose rows cover every topic."""
    topics: dict[tuple[str, str, float, int], set[str]] = {}
    for r in rows:
        topics.setdefault(row_key(r["kind"], r["mode"], r["intensity"], r["seed"]), set()).add(r["topic"])
    return {key for key, seen in topics.items() if len(seen) >= n_topics}


def _write_point(writer: Any, identity: dict[str, str], evalset: EvalSet, clean: np.ndarray, values: np.ndarray,
                 point: tuple[str, str, float, int]) -> None:
    kind, mode, x, seed = point
    counts = evalset.counts()
    for t, topic in enumerate(evalset.topics):
        writer.write([*identity.values(), kind, mode, repr(float(x)), seed, topic, int(counts[t]),
                         *(f"{v:.6g}" for v in values[:, t]), *(f"{v:.6g}" for v in clean[:3, t])])
