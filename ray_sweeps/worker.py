"""The Ray actor: one per worker, holding one Engine for every task it runs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from cluster.evaluate import EvalSet
from cluster.spec import Cluster
from cluster.sweep import Point, point_values
from engine import Engine
from memory.sweep import SweepCase, SweepSpec, case_p_after


class SweepWorker:
    """Loads the model once (on its device, in its dtype) and computes sweep tasks with it."""

    def __init__(self, model: str, device: str, dtype: str, threads: int) -> None:
        torch.set_num_threads(threads)
        self.engine = Engine.load(model, device=device, dtype=dtype)

    def ready(self) -> str:
        """The loaded model's fingerprint (the driver checks it is the model it loaded too)."""
        return self.engine.spec.fingerprint

    def pid(self) -> int:
        """This worker's process id."""
        return os.getpid()

    def cluster_points(self, points: list[Point], cluster: Cluster, evalset: EvalSet, samples: int,
                       means: np.ndarray | None) -> list[np.ndarray]:
        """``cluster.sweep.point_values`` of a chunk of points."""
        return point_values(self.engine, cluster, evalset, points, samples, means)

    def memory_cells(self, work: tuple[int, tuple[tuple[int, float], ...]], cases: Sequence[SweepCase],
                     spec: SweepSpec) -> list[float]:
        """``memory.sweep.case_p_after`` of one case's missing cells."""
        c, cells = work
        return case_p_after(self.engine, cases[c], cells, spec)

    def lens_eval(self, texts: list[str], folders: Sequence[str], batch_size: int):
        """``lens.evaluate.evaluate_lenses`` of some held-out texts with the lenses in ``folders``."""
        from lens.decode import load_lenses
        from lens.evaluate import evaluate_lenses

        lenses = [load_lenses(Path(f), self.engine) for f in folders]
        return evaluate_lenses(self.engine, texts, lenses, batch_size=batch_size)
