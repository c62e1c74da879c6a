"""Turn a cluster into engine interventions, and draw random clusters to compare with."""

from __future__ import annotations

import numpy as np

from cluster.errors import ClusterError
from cluster.spec import Cluster
from engine.interventions import IMPAIR_MODES, Impair, Positions


def impairs(
    cluster: Cluster,
    mode: str,
    intensity: float,
    *,
    seed: int = 0,
    positions: Positions = "all",
    means: np.ndarray | None = None,
) -> tuple[Impair, ...]:
    """One Impair per layer of ``cluster``, at the cluster's site.

    means: ``(n_layers, width)`` clean mean activations, needed for mode "mean".
    Each layer gets its own noise seed (derived from ``seed``), so layers do not
    share one noise pattern.
    """
    if mode not in IMPAIR_MODES:
        raise ClusterError(f"unknown impairment mode {mode!r}; use one of {', '.join(IMPAIR_MODES)}")
    if mode == "mean" and means is None:
        raise ClusterError("mode 'mean' needs the units' clean means; compute them with cluster.inputs.unit_means")
    out = []
    for layer, units in cluster.by_layer().items():
        mean = tuple(float(means[layer, u]) for u in units) if mode == "mean" else None
        out.append(Impair(layer=layer, neurons=units, mode=mode, intensity=float(intensity), site=cluster.site,
                          positions=positions, seed=seed * 1000 + layer, mean=mean))
    return tuple(out)


def random_cluster(cluster: Cluster, width: int, seed: int) -> Cluster:
    """A cluster with the same number of units in every layer, drawn at random from all ``width`` units of it.

    The draw may include the cluster's own units, as a random set of that size would: excluding
    them would bias the baseline towards the units the cluster left alone.
    """
    rng = np.random.default_rng(seed)
    pairs = []
    for layer, units in cluster.by_layer().items():
        if len(units) > width:
            raise ClusterError(f"layer {layer} has {len(units)} units in cluster {cluster.name!r} but only {width} "
                               "exist; use a smaller cluster")
        pairs += [(layer, int(u)) for u in rng.choice(width, size=len(units), replace=False)]
    return Cluster(name=f"random-{seed}", neurons=tuple(pairs), method="random", site=cluster.site,
                   fingerprint=cluster.fingerprint, model_name=cluster.model_name,
                   detail=f"random units matching {cluster.name!r} layer by layer (seed {seed})")
