"""The sweeps' compute functions on an EnginePool: the same chunks as in one process, run by the workers.

Each function returns what the one-process sweep takes as ``compute=``, so the
sweep itself (resume, progress, writing every row once) is the same code on Ray.
Chunks are cut exactly as in one process, so each batch, and so each number, is
the same as a one-process run's.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cluster.evaluate import EvalSet
from cluster.spec import Cluster
from cluster.sweep import CHUNK, Compute, Point, SweepSpec
from lens.evaluate import EvalResult
from memory.sweep import Compute as MemoryCompute
from memory.sweep import SweepCase
from memory.sweep import SweepSpec as MemorySweepSpec
from ray_sweeps.errors import RaySweepError
from ray_sweeps.pool import EnginePool


def check_same_model(pool: EnginePool, engine) -> None:
    """Raise RaySweepError unless every worker loaded the driver's model."""
    found = set(pool.fingerprints)
    if found != {engine.spec.fingerprint}:
        raise RaySweepError(f"the Ray workers loaded a model with fingerprint(s) {sorted(found)}, not "
                            f"{engine.spec.fingerprint}; every node must see the same --model")


def cluster_compute(pool: EnginePool, cluster: Cluster, evalset: EvalSet, spec: SweepSpec,
                    means: np.ndarray | None, chunk: int = CHUNK) -> Compute:
    """A cluster sweep's points, ``chunk`` at a time, on the pool's workers."""
    def compute(points: list[Point]):
        parts = [points[i:i + chunk] for i in range(0, len(points), chunk)]
        yield from pool.map("cluster_points", parts, cluster, evalset, spec.samples, means)
    return compute


def memory_compute(pool: EnginePool, cases: Sequence[SweepCase], spec: MemorySweepSpec) -> MemoryCompute:
    """A memory sweep's cells, one case per task, on the pool's workers."""
    def compute(work):
        for (c, cells), values in pool.map("memory_cells", list(work), tuple(cases), spec):
            yield c, cells, values
    return compute


def lens_eval_on_ray(pool: EnginePool, texts: Sequence[str], folders: Sequence[str], batch_size: int = 32,
                     parts: int | None = None) -> EvalResult:
    """``evaluate_lenses`` with the texts split over the workers; KLs are combined weighted by tokens."""
    parts = parts or len(pool.actors)
    size = -(-len(texts) // parts)
    pieces = [list(texts[i:i + size]) for i in range(0, len(texts), size)]
    results = [r for _, r in pool.map("lens_eval", pieces, list(folders), batch_size)]
    weights = np.array([r.n_tokens for r in results], dtype=np.float64)
    total = max(weights.sum(), 1.0)
    first = results[0]
    return EvalResult(
        layers=first.layers, names=first.names,
        kl_heads=sum(w * r.kl_heads for w, r in zip(weights, results)) / total,
        resid_kl=sum(w * r.resid_kl for w, r in zip(weights, results)) / total,
        n_texts=sum(r.n_texts for r in results), n_tokens=int(weights.sum()))
