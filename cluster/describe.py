"""Describe a cluster: where its units are, what makes them fire, which tokens they promote."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from cluster.inputs import Progress, select_split, site_acts
from cluster.spec import Cluster, check_cluster
from engine.engine import Engine
from promptsets.schema import KeywordPrompt


@dataclass(frozen=True)
class Firing:
    """One prompt position and how strongly the cluster fired there (mean z-score of its units)."""

    prompt: str
    topic: str
    pos: int
    token: str
    score: float


@dataclass(frozen=True)
class UnitTokens:
    """The tokens one unit's output direction promotes most through the unembedding."""

    layer: int
    unit: int
    score: float
    tokens: tuple[str, ...]
    logits: tuple[float, ...]


@dataclass(frozen=True)
class ClusterDescription:
    """What a cluster is: counts per layer, top prompts (last position), top token positions, promoted tokens."""

    name: str
    site: str
    counts: tuple[int, ...]
    top_prompts: tuple[Firing, ...]
    top_tokens: tuple[Firing, ...]
    units: tuple[UnitTokens, ...]
    cluster_tokens: tuple[str, ...]


def describe_cluster(
    engine: Engine, cluster: Cluster, prompts: Sequence[KeywordPrompt], *, split: str | None = "train",
    top_k: int = 10, max_units: int = 20, progress: Progress | None = None,
) -> ClusterDescription:
    """Describe ``cluster`` on the ``split`` prompts; ``max_units`` highest-scoring units get their promoted tokens."""
    check_cluster(cluster, engine.spec)
    chosen = select_split(prompts, split)
    firings = _firings(engine, cluster, chosen, progress)
    last = [fs[-1] for fs in firings]
    by_score = sorted((f for fs in firings for f in fs), key=lambda f: -f.score)
    units = _ranked_units(cluster)[:max_units]
    directions = unit_directions(engine, cluster.site, units)
    return ClusterDescription(
        name=cluster.name, site=cluster.site, counts=tuple(int(c) for c in cluster.counts(engine.spec.n_layers)),
        top_prompts=tuple(sorted(last, key=lambda f: -f.score)[:top_k]), top_tokens=tuple(by_score[:top_k]),
        units=tuple(_unit_tokens(engine, u, d, top_k) for u, d in zip(units, directions)),
        cluster_tokens=_top_tokens(engine, unit_directions(engine, cluster.site, _ranked_units(cluster)).sum(0), top_k)[0],
    )


def unit_directions(engine: Engine, site: str, units: Sequence[tuple[tuple[int, int], float]]) -> torch.Tensor:
    """``(n_units, d_model)`` what each unit writes to the residual stream per unit of activation.

    mlp_post: its row of W_out; mlp_out: the basis direction itself. mlp_in units
    feed the MLP, not the residual stream, so they get zero directions.
    """
    d_model = engine.spec.d_model
    rows = []
    for (layer, unit), _ in units:
        if site == "mlp_post":
            rows.append(engine.W_out(layer)[unit])
        elif site == "mlp_out":
            rows.append(torch.nn.functional.one_hot(torch.tensor(unit), d_model).float())
        else:
            rows.append(torch.zeros(d_model))
    return torch.stack(rows) if rows else torch.zeros(0, d_model)


def _ranked_units(cluster: Cluster) -> list[tuple[tuple[int, int], float]]:
    scores = cluster.scores or (0.0,) * cluster.size
    return sorted(zip(cluster.neurons, scores), key=lambda pair: -pair[1])


def _top_tokens(engine: Engine, direction: torch.Tensor, k: int) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """The top-k tokens of ``direction`` ``(d_model,)`` @ W_U (no final norm), and their logits."""
    if not direction.any():
        return (), ()
    values, ids = (direction @ engine.W_U).topk(k)
    return tuple(engine.token_strs(ids.tolist())), tuple(float(v) for v in values)


def _unit_tokens(engine: Engine, unit: tuple[tuple[int, int], float], direction: torch.Tensor, k: int) -> UnitTokens:
    (layer, index), score = unit
    tokens, logits = _top_tokens(engine, direction, k)
    return UnitTokens(layer=layer, unit=index, score=score, tokens=tokens, logits=logits)


def _firings(
    engine: Engine, cluster: Cluster, prompts: Sequence[KeywordPrompt], progress: Progress | None
) -> list[list[Firing]]:
    """For each prompt, each position with the cluster's mean z-scored activation there."""
    groups = cluster.by_layer()
    per_prompt, tokens = [], []
    for i, p in enumerate(prompts):
        trace = engine.trace(p.prompt)
        acts = [site_acts(trace, cluster.site, layer)[:, list(units)] for layer, units in groups.items()]
        per_prompt.append(torch.cat(acts, dim=1).double().numpy())
        tokens.append(engine.token_strs(trace.tokens))
        if progress is not None:
            progress(i + 1, len(prompts))
    stacked = np.concatenate(per_prompt)
    mean, std = stacked.mean(axis=0), stacked.std(axis=0) + 1e-6
    out = []
    for p, acts, toks in zip(prompts, per_prompt, tokens):
        z = ((acts - mean) / std).mean(axis=1)
        out.append([Firing(prompt=p.prompt, topic=p.topic, pos=j, token=toks[j], score=float(z[j])) for j in range(len(z))])
    return out
