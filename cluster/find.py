"""Find topic clusters: the most topic-selective units of every layer."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from cluster.activations import last_position_acts
from cluster.errors import ClusterError
from cluster.prompts import prompt_hash, select_split, topics_of
from cluster.selectivity import selectivity, top_percent, units_per_layer
from cluster.spec import Cluster, check_site, site_width
from engine.engine import Engine
from engine.errors import listing
from promptsets.schema import KeywordPrompt

Progress = Callable[[int, int], None]


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
