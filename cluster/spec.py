"""The Cluster value: a named set of MLP units of one site, where it came from, and how it is written down.

A cluster is saved as JSON, one file per cluster, or named by a ``units:<list>[@site]`` address
(e.g. ``units:2:0-31,3:7@mlp_out``; the unit lists are :mod:`cluster.units`), so a cluster that was
never saved can still be named on a command line. ``check_cluster`` says whether a cluster fits a model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cluster.errors import ClusterError, ClusterMismatchError
from cluster.units import UNITS_PREFIX, format_units, parse_units
from engine.engine import Engine
from engine.interventions import IMPAIR_SITES, ImpairSite
from engine.spec import ModelSpec

METHODS = ("selectivity", "attribution", "kmeans", "agglomerative", "random", "manual")


def check_site(site: str) -> None:
    """Raise ClusterError unless ``site`` is one the engine can impair."""
    if site not in IMPAIR_SITES:
        raise ClusterError(f"unknown site {site!r}; use one of {', '.join(IMPAIR_SITES)}")


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
        check_site(self.site)
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


def units_address(cluster: Cluster) -> str:
    """``cluster``'s units as an address ``load_cluster`` takes (``units:...@site``)."""
    return f"{UNITS_PREFIX}{format_units(cluster.neurons)}@{cluster.site}"


def cluster_from_address(address: str, name: str = "custom") -> Cluster:
    """The Cluster a ``units:<list>[@site]`` address names; ClusterError says what is wrong."""
    body = address[len(UNITS_PREFIX):] if address.startswith(UNITS_PREFIX) else address
    units, _, site = body.partition("@")
    site = site.strip() or "mlp_post"
    if site not in IMPAIR_SITES:
        raise ClusterError(f"unknown site {site!r} in {address[:60]!r}; end the address with "
                           f"@{' or @'.join(IMPAIR_SITES)}")
    return Cluster(name=name, neurons=parse_units(units), method="manual", site=site)


FORMAT = "lenslab-cluster"
VERSION = 1
# A file naming every unit of a 7B model is a few megabytes; anything far bigger is not a cluster.
MAX_FILE_BYTES = 16 * 1024 * 1024


def cluster_to_dict(cluster: Cluster) -> dict[str, Any]:
    """A JSON-ready dict of ``cluster`` (neurons as ``[layer, neuron]`` lists)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": cluster.name,
        "method": cluster.method,
        "site": cluster.site,
        "topic": cluster.topic,
        "neurons": [list(p) for p in cluster.neurons],
        "scores": list(cluster.scores),
        "prompt_set": cluster.prompt_set,
        "prompt_hash": cluster.prompt_hash,
        "fingerprint": cluster.fingerprint,
        "model_name": cluster.model_name,
        "detail": cluster.detail,
    }


def cluster_from_dict(obj: Any, where: str = "cluster") -> Cluster:
    """Rebuild a Cluster from ``cluster_to_dict`` output; ClusterError names what is wrong."""
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ClusterError(f"{where} is not a LensLab cluster file (no \"format\": \"{FORMAT}\")")
    if obj.get("version") != VERSION:
        raise ClusterError(f"{where} has cluster format version {obj.get('version')!r}; this LensLab reads version {VERSION}")
    missing = {"name", "neurons"} - obj.keys()
    if missing:
        raise ClusterError(f"{where} lacks field(s) {sorted(missing)}")
    keys = ("method", "site", "topic", "scores", "prompt_set", "prompt_hash", "fingerprint", "model_name", "detail")
    kwargs = {k: obj[k] for k in keys if k in obj}
    if not isinstance(obj["neurons"], list):
        raise ClusterError(f"{where}: \"neurons\" must be a list of [layer, neuron] pairs")
    kwargs["neurons"] = tuple(tuple(p) if isinstance(p, list) else p for p in obj["neurons"])
    kwargs["scores"] = tuple(kwargs.get("scores") or ())
    try:
        return Cluster(name=obj["name"], **kwargs)
    except ClusterError as err:
        raise ClusterError(f"{where}: {err}") from None


def save_cluster(cluster: Cluster, path: str | Path) -> Path:
    """Write ``cluster`` as JSON to ``path`` (folders are created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # One key per line, each value on one line: small, stable, readable diffs.
    items = sorted(cluster_to_dict(cluster).items())
    text = "{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in items) + "\n}\n"
    # Written beside and renamed into place: a crash never leaves half a cluster under its name.
    tmp = _write_text(path.with_name(f".{path.name}.tmp"), text)
    tmp.replace(path)
    return path


def _write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def load_cluster(path: str | Path, engine: Engine | None = None) -> Cluster:
    """Read a cluster file, or build the cluster a ``units:...`` address names (see cluster.units);
    with ``engine``, also check it fits that model (see ``check_cluster``)."""
    if isinstance(path, str) and path.startswith(UNITS_PREFIX):
        cluster = cluster_from_address(path)
        if engine is not None:
            check_cluster(cluster, engine.spec)
        return cluster
    path = Path(path)
    if not path.is_file():
        raise ClusterError(f"cluster file {path} does not exist; make one with `python -m cluster find`")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ClusterError(f"cluster file {path} is not valid JSON ({err}); find the cluster again") from None
    cluster = cluster_from_dict(obj, where=f"cluster file {path}")
    if engine is not None:
        check_cluster(cluster, engine.spec)
    return cluster


def read_cluster_bytes(data: bytes, where: str, spec: ModelSpec) -> Cluster:
    """A cluster from a file's bytes (an upload), checked against ``spec``'s model before anything uses it.

    Size, JSON, unit count and the model check all come first, so a file that fails any of them
    is refused whole (ClusterError / ClusterMismatchError) and nothing is built from it.
    """
    if len(data) > MAX_FILE_BYTES:
        raise ClusterError(f"{where} is {len(data) / 2 ** 20:.1f} MB; a cluster file is at most "
                           f"{MAX_FILE_BYTES // 2 ** 20} MB; choose a file saved by LensLab")
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ClusterError(f"{where} is not valid JSON ({err}); choose a file saved by LensLab") from None
    neurons = obj.get("neurons") if isinstance(obj, dict) else None
    most = spec.n_layers * max(site_width(spec, site) for site in ("mlp_post", "mlp_out", "mlp_in"))
    if isinstance(neurons, list) and len(neurons) > most:
        raise ClusterMismatchError(f"{where} names {len(neurons)} units, more than this model has in all "
                                   f"({most}); find the cluster again for this model with `python -m cluster find`")
    cluster = cluster_from_dict(obj, where)
    check_cluster(cluster, spec)
    return cluster


def check_cluster(cluster: Cluster, spec: ModelSpec) -> None:
    """Raise ClusterMismatchError unless ``cluster`` was made for the model of ``spec`` and names real units."""
    if cluster.fingerprint and cluster.fingerprint != spec.fingerprint:
        made_for = cluster.model_name or "another model"
        raise ClusterMismatchError(
            f"cluster {cluster.name!r} was made for {made_for} (fingerprint {cluster.fingerprint[:12]}), "
            f"not for the loaded model {spec.name} (fingerprint {spec.fingerprint[:12]}); "
            "find it again for this model with `python -m cluster find`"
        )
    width = site_width(spec, cluster.site)
    for layer, unit in cluster.neurons:
        if layer >= spec.n_layers:
            raise ClusterMismatchError(
                f"cluster {cluster.name!r} names layer {layer}, which does not exist; "
                f"this model has layers 0-{spec.n_layers - 1}"
            )
        if unit >= width:
            raise ClusterMismatchError(
                f"cluster {cluster.name!r} names unit {unit} of layer {layer}, which does not exist; "
                f"{cluster.site} of this model has units 0-{width - 1}"
            )
