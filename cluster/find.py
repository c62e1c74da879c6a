"""Find clusters in clean activations: the most topic-selective units of every layer, or groups
of units with similar activation profiles across prompts (scikit-learn k-means or agglomerative).

A unit's selectivity for a topic is how much more it fires on the topic's prompts than on the
rest, in pooled standard deviations; a topic cluster is the top p% of each layer by it. A
profile cluster is one group of units whose z-scored activations move together across prompts.
(Clusters by attribution, the units a topic's answers rely on, are :mod:`cluster.attribution`.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Sequence

import numpy as np
from sklearn.cluster import AgglomerativeClustering, KMeans

from cluster.errors import ClusterError
from cluster.inputs import Progress, last_position_acts, prompt_hash, select_split, topics_of
from cluster.spec import Cluster, check_site, site_width
from engine.engine import Engine
from engine.errors import listing
from promptsets.schema import KeywordPrompt

# Keeps dead units (zero spread on both sides) at a finite, near-zero score.
EPS = 1e-6


def selectivity(acts: np.ndarray, is_topic: np.ndarray) -> np.ndarray:
    """How much more a unit fires on the topic than on the rest, in pooled standard deviations.

    acts: ``(n_prompts, ...)`` activations at each prompt's last position.
    is_topic: ``(n_prompts,)`` bool, True for the topic's prompts.
    Returns ``(...)``: (mean on topic - mean on others) / pooled std.
    """
    is_topic = np.asarray(is_topic, dtype=bool)
    acts = np.asarray(acts, dtype=np.float64)
    if is_topic.shape != acts.shape[:1]:
        raise ClusterError(f"is_topic has shape {is_topic.shape}; expected ({acts.shape[0]},), one flag per prompt")
    n_in, n_out = int(is_topic.sum()), int((~is_topic).sum())
    if n_in < 2 or n_out < 2:
        raise ClusterError(
            f"selectivity needs at least 2 prompts on the topic and 2 off it, got {n_in} and {n_out}; add prompts"
        )
    on, off = acts[is_topic], acts[~is_topic]
    pooled_var = ((n_in - 1) * on.var(axis=0, ddof=1) + (n_out - 1) * off.var(axis=0, ddof=1)) / (n_in + n_out - 2)
    return (on.mean(axis=0) - off.mean(axis=0)) / (np.sqrt(pooled_var) + EPS)


def units_per_layer(width: int, percent: float) -> int:
    """How many of a layer's ``width`` units make ``percent`` % (at least one)."""
    if not 0 < percent <= 100:
        raise ClusterError(f"percent must be in (0, 100], got {percent}")
    return max(1, int(round(width * percent / 100.0)))


def top_percent(scores: np.ndarray, percent: float) -> tuple[list[tuple[int, int]], list[float]]:
    """The ``percent`` % highest-scoring units of every layer.

    scores: ``(n_layers, width)``. Returns the (layer, unit) pairs and their scores;
    ties go to the lower unit index, so the choice is deterministic.
    """
    scores = np.asarray(scores, dtype=np.float64)
    k = units_per_layer(scores.shape[1], percent)
    pairs: list[tuple[int, int]] = []
    values: list[float] = []
    for layer, row in enumerate(scores):
        best = np.argsort(-row, kind="stable")[:k]
        pairs += [(layer, int(u)) for u in best]
        values += [float(row[u]) for u in best]
    return pairs, values


def provenance(engine: Engine, prompts: Sequence[KeywordPrompt], prompt_set: str) -> dict[str, str]:
    """The Cluster fields that pin the model and the prompts a cluster came from."""
    return {
        "prompt_set": prompt_set,
        "prompt_hash": prompt_hash(prompts),
        "fingerprint": engine.spec.fingerprint,
        "model_name": model_label(engine.spec.name),
    }


def model_label(name: str) -> str:
    """A model's name as a cluster records it: a local folder by its last part (no machine paths), else as is."""
    path = Path(name)
    return path.name if path.is_dir() else name


def topic_selectivity(acts: np.ndarray, labels: Sequence[str], topic: str) -> np.ndarray:
    """``(n_layers, width)`` selectivity of every unit for ``topic`` against all other topics.

    acts: ``(n_prompts, n_layers, width)`` last-position activations; labels: each prompt's topic.
    """
    is_topic = np.array([t == topic for t in labels])
    return selectivity(acts, is_topic)


def find_topic_clusters(
    engine: Engine,
    prompts: Sequence[KeywordPrompt],
    percent: float,
    *,
    topics: Sequence[str] | None = None,
    split: str | None = "train",
    site: str = "mlp_post",
    prompt_set: str = "keywords",
    progress: Progress | None = None,
) -> dict[str, Cluster]:
    """One cluster per topic: the top ``percent`` % of each layer's units by selectivity.

    Selectivity is measured at the last prompt position on the ``split`` prompts
    (the held-out ones stay for evaluation). ``topics`` defaults to every topic
    in the prompts; each is contrasted with all the others. ``progress(done, total)``
    is called once per prompt.
    """
    check_site(site)
    units_per_layer(site_width(engine.spec, site), percent)  # refuses a bad percent before any work
    chosen = select_split(prompts, split)
    labels = [p.topic for p in chosen]
    wanted = tuple(topics) if topics is not None else topics_of(chosen)
    unknown = sorted(set(wanted) - set(labels))
    if unknown:
        raise ClusterError(f"no {split or 'any'} prompts for topic(s) {listing(unknown)}; "
                           f"the prompts have {listing(topics_of(chosen))}")
    acts = last_position_acts(engine, chosen, site, progress)
    where = provenance(engine, chosen, f"{prompt_set}:{split or 'all'}")
    return topic_clusters_from_acts(acts, labels, percent, wanted, site=site, **where)


def topic_clusters_from_acts(
    acts: np.ndarray, labels: Sequence[str], percent: float, topics: Sequence[str], site: str = "mlp_post",
    **where: str,
) -> dict[str, Cluster]:
    """One cluster per topic from ``(n_prompts, n_layers, width)`` last-position activations.

    ``where`` holds the provenance fields (see ``provenance``); finding clusters of
    several sizes from one set of activations saves re-running the prompts.
    """
    out = {}
    for topic in topics:
        pairs, scores = top_percent(topic_selectivity(acts, labels, topic), percent)
        out[topic] = Cluster(
            name=topic, neurons=tuple(pairs), scores=tuple(scores), method="selectivity", site=site,
            topic=topic, detail=f"top {percent:g}% of each layer's {site} units by selectivity for {topic!r} vs other topics",
            **where,
        )
    return out


GroupMethod = Literal["kmeans", "agglomerative"]


def standardise(profiles: np.ndarray, min_std: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """Z-score each row of ``profiles`` ``(n_units, n_prompts)``; rows that barely vary are dropped.

    Returns the ``(n_kept, n_prompts)`` z-scores and the ``(n_kept,)`` indices of the kept rows.
    """
    profiles = np.asarray(profiles, dtype=np.float64)
    std = profiles.std(axis=1)
    keep = np.flatnonzero(std > min_std)
    z = (profiles[keep] - profiles[keep].mean(axis=1, keepdims=True)) / std[keep, None]
    return z, keep


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
