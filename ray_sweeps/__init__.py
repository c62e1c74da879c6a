"""Sweeps on Ray: one actor per worker holds the engine; the driver writes every row exactly once.

    from ray_sweeps import EnginePool, ModelRef, RaySettings, cluster_compute
    with EnginePool(RaySettings(workers=2), ModelRef("assets/demo")) as pool:
        run_sweep(engine, cluster, evalset, spec, path, compute=cluster_compute(pool, cluster, evalset, spec, means))
"""

from ray_sweeps.compute import cluster_compute, lens_eval_on_ray, memory_compute
from ray_sweeps.errors import RaySweepError
from ray_sweeps.pool import EnginePool, ModelRef, RaySettings

__all__ = ["EnginePool", "ModelRef", "RaySettings", "RaySweepError", "cluster_compute", "lens_eval_on_ray",
           "memory_compute"]
