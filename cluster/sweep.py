"""Command-line sweeps: one CSV row per topic x mode x intensity x seed, resumable.

The CSV is written through :mod:`sweepio`: its folder is locked while the sweep
runs, each row is flushed as it is written, and a torn last line is dropped on resume.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from cluster.curves import CLEAN_COLUMNS, NOISY_MODES
from cluster.errors import ClusterError
from cluster.impair import METRICS, EvalSet, impairs, random_cluster, score, score_batch
from cluster.inputs import Progress, unit_means
from cluster.spec import Cluster, check_cluster, site_width
from engine import Engine
from engine.interventions import IMPAIR_MODES
from sweepio import OutputLock, RowAppender, StoredRows, rewrite_rows
from sweepio import read_rows as read_stored

logger = logging.getLogger(__name__)
HEADER = ("model", "cluster", "site", "split", "kind", "mode", "intensity", "seed", "topic", "n_prompts",
          *METRICS, *CLEAN_COLUMNS)
# Most intensities a sweep takes (each is a run over every prompt).
MAX_POINTS = 10_000
# A CSV holds one sweep: these columns must match for its rows to be resumed.
IDENTITY = ("model", "cluster", "site", "split")


@dataclass(frozen=True)
class SweepSpec:
    """What to sweep: impairment modes x intensities x seeds, for the cluster and (optionally) random clusters.

    A "random" row with seed s impairs a random cluster drawn with seed s.
    """

    modes: tuple[str, ...]
    intensities: tuple[float, ...]
    seeds: tuple[int, ...] = (0,)
    samples: int = 1
    baseline: bool = True

    def __post_init__(self) -> None:
        bad = [m for m in self.modes if m not in IMPAIR_MODES]
        if bad or not self.modes:
            raise ClusterError(f"unknown or no modes {bad}; use some of {', '.join(IMPAIR_MODES)}")
        if not self.intensities or not self.seeds:
            raise ClusterError("a sweep needs at least one intensity and one seed")
        if self.samples < 1:
            raise ClusterError(f"samples must be at least 1, got {self.samples}")

    def points(self) -> Iterator[tuple[str, str, float, int]]:
        """Every (kind, mode, intensity, seed) the sweep computes."""
        kinds = ("cluster", "random") if self.baseline else ("cluster",)
        for mode in self.modes:
            for x in self.intensities:
                for seed in self.seeds:
                    for kind in kinds:
                        yield kind, mode, x, seed


def parse_intensities(text: str) -> tuple[float, ...]:
    """``"start:stop:step"`` (stop included) or a comma list, e.g. ``"0:2:0.1"`` or ``"0,0.5,1"``.

    Finite values only, and at most ``MAX_POINTS`` of them, counted before any is built.
    """
    how = "write start:stop:step (e.g. 0:2:0.1) or 0,0.5,1"
    try:
        if ":" in text:
            start, stop, step = (float(v) for v in text.split(":"))
            if not all(np.isfinite((start, stop, step))) or step <= 0 or stop < start:
                raise ValueError
            n = int(np.floor((stop - start) / step + 1e-9)) + 1
            values: tuple[float, ...] = ()
            if n <= MAX_POINTS:
                values = tuple(round(start + i * step, 9) for i in range(n))
        else:
            parts = [v for v in text.split(",") if v.strip()]
            n = len(parts)
            values = tuple(round(float(v), 9) for v in parts) if n <= MAX_POINTS else ()
            if not all(np.isfinite(values)):
                raise ValueError
    except (ValueError, OverflowError):
        raise ClusterError(f"cannot read intensities {text[:40]!r}; {how}") from None
    if n > MAX_POINTS:
        raise ClusterError(f"intensities {text[:40]!r} name {n} values; at most {MAX_POINTS}: use a larger step")
    return values


def read_rows(path: Path) -> list[dict[str, str]]:
    """The complete rows of a sweep CSV (empty if it does not exist); a line cut short is left out."""
    return list(read_stored(path, HEADER).rows)


def row_key(kind: str, mode: str, intensity: float | str, seed: int | str) -> tuple[str, str, float, int]:
    """The key that identifies one computed point, tolerant of float formatting."""
    return kind, mode, round(float(intensity), 9), int(seed)


Point = tuple[str, str, float, int]
# Computes the values of some points; yields (points, their values) as each part is done, in any order.
Compute = Callable[[list[Point]], Iterator[tuple[list[Point], list[np.ndarray]]]]
# Points per batch; a Ray sweep cuts the same chunks, so its batches and numbers match one process's.
CHUNK = 16


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
                  means: np.ndarray | None, chunk: int = CHUNK) -> Compute:
    """Compute points in this process, ``chunk`` points per batch."""
    def compute(points: list[Point]) -> Iterator[tuple[list[Point], list[np.ndarray]]]:
        for part in _chunks(points, chunk):
            yield part, point_values(engine, cluster, evalset, part, spec.samples, means)
    return compute


def pool_compute(pool: Any, cluster: Cluster, evalset: EvalSet, spec: SweepSpec, means: np.ndarray | None,
                 chunk: int = CHUNK) -> Compute:
    """Compute points on a pool of engines (``ray_sweeps.EnginePool``), the same chunks as :func:`local_compute`,
    so each batch, and each number, is the one a one-process sweep computes."""
    def compute(points: list[Point]) -> Iterator[tuple[list[Point], list[np.ndarray]]]:
        yield from pool.map(_chunk_values, _chunks(points, chunk), cluster, evalset, spec.samples, means)
    return compute


def _chunk_values(engine: Engine, points: list[Point], cluster: Cluster, evalset: EvalSet, samples: int,
                  means: np.ndarray | None) -> list[np.ndarray]:
    """:func:`point_values` with the engine and the chunk first (the task a pool worker runs)."""
    return point_values(engine, cluster, evalset, points, samples, means)


def _chunks(points: list[Point], size: int) -> list[list[Point]]:
    return [points[i:i + size] for i in range(0, len(points), size)]


def run_sweep(
    engine: Engine, cluster: Cluster, evalset: EvalSet, spec: SweepSpec, csv_path: Path, progress: Progress | None = None,
    compute: Compute | None = None,
) -> int:
    """Compute the sweep's missing points and append their rows to ``csv_path``; returns how many points ran.

    Points already in the CSV are skipped, so an interrupted sweep resumes where
    it stopped; rows of a point left half-written are dropped and recomputed.
    While it runs, the CSV's lock refuses a second writer (:class:`sweepio.OutputLockedError`).
    ``compute`` (default: batched, in this process; :func:`pool_compute` runs on Ray workers)
    yields values in any order; this process writes every point's rows exactly once.
    """
    check_cluster(cluster, engine.spec)
    with OutputLock.beside(csv_path):
        return _run_locked(engine, cluster, evalset, spec, csv_path, progress, compute)


def _run_locked(engine: Engine, cluster: Cluster, evalset: EvalSet, spec: SweepSpec, csv_path: Path,
                progress: Progress | None, compute: Compute | None) -> int:
    identity = {"model": engine.spec.fingerprint[:16], "cluster": cluster.name, "site": cluster.site,
                "split": str(evalset.split)}
    have = _prepare_csv(csv_path, identity, len(evalset.topics))
    todo = [p for p in spec.points() if row_key(*p) not in have]
    clean = score(engine, evalset)
    if compute is None:
        compute = local_compute(engine, cluster, evalset, spec, sweep_means(engine, evalset, cluster, spec))
    written: set[tuple[str, str, float, int]] = set()
    with RowAppender(csv_path, HEADER) as writer:
        for points, values in compute(todo):
            for point, value in zip(points, values):
                if row_key(*point) in written:
                    continue
                written.add(row_key(*point))
                _write_point(writer, identity, evalset, clean, value, point)
                if progress is not None:
                    progress(len(written), len(todo))
    return len(written)


def sweep_means(engine: Engine, evalset: EvalSet, cluster: Cluster, spec: SweepSpec) -> np.ndarray | None:
    """The units' clean means over the prompts when the sweep has mode "mean" (else None)."""
    return unit_means(engine, evalset.prompts, cluster.site) if "mean" in spec.modes else None


def _prepare_csv(path: Path, identity: dict[str, str], n_topics: int) -> set[tuple[str, str, float, int]]:
    """Check the CSV belongs to this sweep, keep only complete points, and return their keys."""
    stored: StoredRows = read_stored(path, HEADER)
    _check_identity(stored.rows, identity, path)
    have = _complete_points(stored.rows, n_topics)
    kept, seen = [], set()
    for r in stored.rows:
        key = row_key(r["kind"], r["mode"], r["intensity"], r["seed"])
        # A row already seen (two writers before the lock existed) is dropped, not counted twice.
        if key in have and (key, r["topic"]) not in seen:
            seen.add((key, r["topic"]))
            kept.append(r)
    if path.is_file() and not stored.dropped and len(kept) == len(stored.rows):
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


def _check_identity(rows: tuple[dict[str, str], ...], identity: dict[str, str], path: Path) -> None:
    for r in rows[:1]:
        found = {k: r[k] for k in IDENTITY}
        if found != identity:
            raise ClusterError(
                f"{path} holds a sweep of {found}, not of {identity}; choose another --out or delete the file"
            )


def _write_point(writer: Any, identity: dict[str, str], evalset: EvalSet, clean: np.ndarray, values: np.ndarray,
                 point: tuple[str, str, float, int]) -> None:
    kind, mode, x, seed = point
    counts = evalset.counts()
    for t, topic in enumerate(evalset.topics):
        writer.write([*identity.values(), kind, mode, repr(float(x)), seed, topic, int(counts[t]),
                         *(f"{v:.6g}" for v in values[:, t]), *(f"{v:.6g}" for v in clean[:3, t])])
