"""Sweeps on Ray: one actor per worker holds the engine; the driver writes every row exactly once.

The pool is generic: ``pool.map(fn, items, *args)`` runs ``fn(engine, item, *args)`` on the
workers. The sweeps build their compute functions on it (``cluster.sweep.pool_compute``,
``memory.sweep.pool_compute``, ``lens.evaluate.evaluate_lenses_on``), so this package needs
only the engine.

    from ray_sweeps import EnginePool, ModelRef, RaySettings
    with EnginePool(RaySettings(workers=2), ModelRef("assets/demo")) as pool:
        run_sweep(engine, cluster, evalset, spec, path, compute=pool_compute(pool, cluster, evalset, spec, means))
"""

from ray_sweeps.errors import RaySweepError
from ray_sweeps.pool import EnginePool, ModelRef, RaySettings

__all__ = ["EnginePool", "ModelRef", "RaySettings", "RaySweepError"]
