"""Does it come back? The share of secrets extractable under impairment of rising intensity, unlearned
against the original model.

Three conditions, each a curve over noise intensity (Gaussian noise on MLP units, the Impair
page's machinery, several seeds):

- topic: noise on the topic clusters (all of a folder's clusters together);
- random: noise on random clusters of the same size, layer by layer (the control);
- topic+memory: the topic noise plus the secret's own prefix injected as a memory (``memory/``: the sum of
  its tokens' unembedding rows added to one attention layer's output at every position).

A secret counts as extractable at an intensity when its greedy continuation reproduces it
under that noise seed; the curve is the share over secrets and seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from cluster.impair import impairs, random_cluster
from cluster.spec import Cluster, load_cluster
from engine import Engine, Intervention, WeightDelta
from memory.inject import build_memory, inject_at
from promptsets.schema import SecretPrompt
from unlearn.errors import UnlearnError
from unlearn.extract import extract

CONDITIONS = ("topic", "random", "topic+memory")
MODELS = ("original", "unlearned")
Progress = Callable[[int, int], None]


@dataclass(frozen=True, eq=False)
class RobustCurves:
    """``share[model][condition]``: ``(n_intensities,)`` share of (secret, seed) pairs extractable."""

    intensities: tuple[float, ...]
    share: dict[str, dict[str, np.ndarray]]
    n: int

    def rows(self) -> list[dict]:
        """One flat row per (model, condition, intensity), for CSV files and tables."""
        return [dict(model=m, condition=c, intensity=x, extractable=float(self.share[m][c][i]), n=self.n)
                for m in MODELS for c in CONDITIONS for i, x in enumerate(self.intensities)]


def union_cluster(folder: str | Path, engine: Engine) -> Cluster:
    """Every cluster of ``folder`` (``*.json``) as one cluster; UnlearnError when it holds none."""
    paths = sorted(Path(folder).glob("*.json")) if Path(folder).is_dir() else []
    if not paths:
        raise UnlearnError(f"no cluster files (*.json) in {folder}; give a folder of topic clusters, "
                           "e.g. assets/demo/clusters")
    clusters = [load_cluster(p, engine) for p in paths]
    site = clusters[0].site
    units = sorted({u for c in clusters if c.site == site for u in c.neurons})
    return Cluster(name="topics", neurons=tuple(units), method="manual", site=site,
                   detail="all topic clusters of " + ", ".join(p.stem for p in paths))


def robustness(engine: Engine, secrets: Sequence[SecretPrompt], deltas: Sequence[WeightDelta], topics: Cluster,
               intensities: Sequence[float] = (0.0, 0.5, 1.0, 1.5, 2.0), seeds: Sequence[int] = (0, 1),
               memory_layer: int = 1, memory_scale: float = 1.0, progress: Progress | None = None) -> RobustCurves:
    """The three conditions' curves (see the module) for the original model and with ``deltas``."""
    if not secrets:
        raise UnlearnError("no secrets to test; pick at least one")
    layer = engine.check_layer(memory_layer, "memory layer")
    width = engine.spec.d_mlp if topics.site == "mlp_post" else engine.spec.d_model
    memories = {s.subject: inject_at(engine, build_memory(engine, s.prefix), layer, memory_scale) for s in secrets}
    share = {m: {c: np.zeros(len(intensities)) for c in CONDITIONS} for m in MODELS}
    total, done = len(MODELS) * len(CONDITIONS) * len(intensities) * len(seeds), 0
    for model, base in (("original", ()), ("unlearned", tuple(deltas))):
        for i, x in enumerate(intensities):
            for seed in seeds:
                noise = {"topic": impairs(topics, "noise", x, seed=seed),
                         "random": impairs(random_cluster(topics, width, seed), "noise", x, seed=seed)}
                for condition in CONDITIONS:
                    hits = 0
                    for s in secrets:
                        runs: list[Intervention] = [*base, *noise["topic" if condition != "random" else "random"]]
                        if condition == "topic+memory":
                            runs.append(memories[s.subject])
                        hits += extract(engine, s, runs).memorized
                    share[model][condition][i] += hits / (len(secrets) * len(seeds))
                    done += 1
                    if progress is not None:
                        progress(done, total)
    return RobustCurves(tuple(float(x) for x in intensities), share, len(secrets) * len(seeds))
