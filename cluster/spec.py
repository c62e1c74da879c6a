"""The Cluster value: a named set of MLP units and where it came from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.interventions import IMPAIR_SITES, ImpairSite
from cluster.errors import ClusterError

METHODS = ("selectivity", "attribution", "kmeans", "agglomerative", "random", "manual")


@dataclass(frozen=True)
class Cluster:
    """A set of (layer, unit) pairs of one site, kept sorted, with its provenance.

    ``site`` says what a unit index means: a neuron of ``mlp_post`` (d_mlp wide),
    or a dimension of ``mlp_out`` / ``mlp_in`` (d_model wide). ``scores`` holds one
    number per unit in the same order (selectivity, or closeness to the group's
    centre), ``topic`` the topic the cluster is about (None if it has none), and
    ``prompt_set`` / ``prompt_hash`` the prompts it was found on.
    """

    name: str
    neurons: tuple[tuple[int, int], ...]
    method: str = "manual"
    site: ImpairSite = "mlp_post"
    topic: str | None = None
    scores: tuple[float, ...] = ()
    prompt_set: str = ""
    prompt_hash: str = ""
    fingerprint: str = ""
    model_name: str = ""
    detail: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise ClusterError("a cluster needs a non-empty name")
        if self.method not in METHODS:
            raise ClusterError(f"unknown cluster method {self.method!r}; use one of {', '.join(METHODS)}")
        if self.site not in IMPAIR_SITES:
            raise ClusterError(f"unknown site {self.site!r}; use one of {', '.join(IMPAIR_SITES)}")
        pairs = [_pair(p) for p in self.neurons]
        if len(set(pairs)) != len(pairs):
            raise ClusterError(f"cluster {self.name!r} names a (layer, neuron) pair twice")
        # Rounded so a cluster survives its JSON round trip unchanged.
        scores = [round(float(s), 6) for s in self.scores]
        if scores and len(scores) != len(pairs):
            raise ClusterError(
                f"cluster {self.name!r} has {len(pairs)} neurons but {len(scores)} scores; give one score per neuron or none"
            )
        order = sorted(range(len(pairs)), key=pairs.__getitem__)
        object.__setattr__(self, "neurons", tuple(pairs[i] for i in order))
        object.__setattr__(self, "scores", tuple(scores[i] for i in order) if scores else ())

    @property
    def size(self) -> int:
        """Number of units in the cluster."""
        return len(self.neurons)

    @property
    def layers(self) -> tuple[int, ...]:
        """The layers that hold at least one unit, ascending."""
        return tuple(sorted({layer for layer, _ in self.neurons}))

    def by_layer(self) -> dict[int, tuple[int, ...]]:
        """Units grouped by layer: ``{layer: (unit, ...)}``, both ascending."""
        groups: dict[int, list[int]] = {}
        for layer, unit in self.neurons:
            groups.setdefault(layer, []).append(unit)
        return {layer: tuple(units) for layer, units in groups.items()}

    def counts(self, n_layers: int) -> np.ndarray:
        """``(n_layers,)`` number of units in each layer."""
        out = np.zeros(n_layers, dtype=np.int64)
        for layer, _ in self.neurons:
            if layer < n_layers:
                out[layer] += 1
        return out


def _pair(p: object) -> tuple[int, int]:
    try:
        layer, unit = p  # type: ignore[misc]
    except (TypeError, ValueError):
        raise ClusterError(f"a neuron must be a (layer, neuron) pair, got {p!r}") from None
    if not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in (layer, unit)):
        raise ClusterError(f"a neuron must be a pair of integers, got {p!r}")
    if layer < 0 or unit < 0:
        raise ClusterError(f"neuron {p!r} has a negative index; layers and neurons count from 0")
    return int(layer), int(unit)


def site_width(spec: object, site: str) -> int:
    """How many units ``site`` has per layer in a model with ``spec`` (a ModelSpec)."""
    return int(spec.d_mlp) if site == "mlp_post" else int(spec.d_model)  # type: ignore[attr-defined]
