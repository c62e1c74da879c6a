"""Unsupervised clusters: group units by their standardised activation profiles across prompts."""

from __future__ import annotations

from typing import Callable, Literal, Sequence

import numpy as np
from sklearn.cluster import AgglomerativeClustering, KMeans

from engine.engine import Engine
from cluster.activations import last_position_acts
from cluster.errors import ClusterError
from cluster.find import provenance
from cluster.prompts import select_split, topics_of
from cluster.selectivity import standardise
from cluster.spec import Cluster, check_site, site_width
from promptsets.schema import KeywordPrompt

Progress = Callable[[int, int], None]
GroupMethod = Literal["kmeans", "agglomerative"]


def group_units(acts: np.ndarray, k: int, method: GroupMethod = "kmeans", seed: int = 0) -> list[np.ndarray]:
    """Split the units into ``k`` groups of similar activation profile.

    acts: ``(n_prompts, n_layers, width)``. Each unit's profile is its activations
    across prompts, z-scored; units that never vary are left out. Returns ``k``
    arrays of flat unit indices (``layer * width + unit``), largest group first.
    """
    n_prompts, n_layers, width = acts.shape
    z, keep = standardise(acts.reshape(n_prompts, n_layers * width).T)
    if not 2 <= k <= len(keep):
        raise ClusterError(f"k must be between 2 and the number of active units ({len(keep)}), got {k}")
    if method == "kmeans":
        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(z)
    elif method == "agglomerative":
        labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(z)
    else:
        raise ClusterError(f"unknown grouping method {method!r}; use kmeans or agglomerative")
    groups = [keep[labels == g] for g in range(k)]
    return sorted(groups, key=lambda g: (-len(g), int(g[0])))


def profile_scores(acts: np.ndarray, flat_units: np.ndarray) -> np.ndarray:
    """``(len(flat_units),)`` correlation of each unit's profile with its group's mean profile."""
    z, _ = standardise(acts.reshape(acts.shape[0], -1).T[flat_units], min_std=0.0)
    centre = z.mean(axis=0)
    centre = (centre - centre.mean()) / (centre.std() + 1e-12)
    return (z * centre).mean(axis=1)


def best_topic(acts: np.ndarray, flat_units: np.ndarray, labels: Sequence[str]) -> str:
    """The topic on whose prompts the group's units fire most (mean z-score)."""
    z, _ = standardise(acts.reshape(acts.shape[0], -1).T[flat_units], min_std=0.0)
    per_prompt = z.mean(axis=0)
    topics = tuple(dict.fromkeys(labels))
    means = [per_prompt[[t == topic for t in labels]].mean() for topic in topics]
    return topics[int(np.argmax(means))]


def find_profile_clusters(
    engine: Engine,
    prompts: Sequence[KeywordPrompt],
    k: int,
    *,
    method: GroupMethod = "kmeans",
    split: str | None = "train",
    site: str = "mlp_post",
    seed: int = 0,
    prompt_set: str = "keywords",
    progress: Progress | None = None,
) -> dict[str, Cluster]:
    """``k`` clusters named ``{method}-{i}`` from grouping units by their profiles on the ``split`` prompts.

    Each cluster's ``topic`` is the topic that activates it most; its scores are
    each unit's correlation with the group's mean profile.
    """
    check_site(site)
    n_units = engine.spec.n_layers * site_width(engine.spec, site)
    if not 2 <= k <= n_units:
        # Checked before reading any activation; group_units later also drops units that never fire.
        raise ClusterError(f"k must be from 2 to {n_units} (the model's {site} units), got {k}")
    chosen = select_split(prompts, split)
    acts = last_position_acts(engine, chosen, site, progress).astype(np.float64)
    labels = [p.topic for p in chosen]
    width = acts.shape[2]
    where = provenance(engine, chosen, f"{prompt_set}:{split or 'all'}")
    out = {}
    for i, group in enumerate(group_units(acts, k, method, seed)):
        name = f"{method}-{i}"
        topic = best_topic(acts, group, labels) if len(topics_of(chosen)) > 1 else None
        out[name] = Cluster(
            name=name, neurons=tuple((int(u) // width, int(u) % width) for u in group),
            scores=tuple(float(s) for s in profile_scores(acts, group)), method=method, site=site, topic=topic,
            detail=f"group {i} of {k} ({method}, seed {seed}) of {site} units by activation profile", **where,
        )
    return out
