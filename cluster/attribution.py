"""Clusters by attribution: units ranked by activation x gradient of the answer's logit (attribution patching).

For a prompt, a unit's attribution ``a * d logit(answer) / d a`` at the last position is
the first-order estimate of how much the answer's logit would fall if the unit were
zeroed: the unit's causal share in this answer, from one forward and one backward pass.
A topic's score for a unit is its mean attribution over the topic's train prompts, so a
cluster holds the units the topic's answers rely on, not merely the ones that fire on it.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from cluster.errors import ClusterError
from cluster.find import provenance, top_percent
from cluster.inputs import answer_token, select_split, topics_of
from cluster.spec import Cluster, check_site
from engine import Engine
from promptsets.schema import KeywordPrompt

Progress = Callable[[int, int], None]
BATCH = 32


def _batch_attributions(engine: Engine, prompts: Sequence[KeywordPrompt], site: str, objective: str) -> np.ndarray:
    """``(len(prompts), n_layers, width)`` attributions of one batch, at each prompt's last position."""
    seqs = [engine.encode(p.prompt) for p in prompts]
    targets = [answer_token(engine, p.answer) for p in prompts]
    return engine.attribute(seqs, targets, site, objective).numpy().astype(np.float32)


def answer_attributions(engine: Engine, prompts: Sequence[KeywordPrompt], site: str = "mlp_post",
                        progress: Progress | None = None, objective: str = "logit") -> np.ndarray:
    """``(n_prompts, n_layers, width)`` activation x gradient of each prompt's answer logit, at its last position."""
    check_site(site)
    if not prompts:
        raise ClusterError("attribution needs at least one prompt; check the prompt file and --split")
    parts = []
    for start in range(0, len(prompts), BATCH):
        parts.append(_batch_attributions(engine, prompts[start:start + BATCH], site, objective))
        if progress is not None:
            progress(min(start + BATCH, len(prompts)), len(prompts))
    return np.concatenate(parts)


def attribution_clusters_from_scores(
    attr: np.ndarray, labels: Sequence[str], percent: float, topics: Sequence[str], site: str = "mlp_post",
    **where: str,
) -> dict[str, Cluster]:
    """One cluster per topic from ``(n_prompts, n_layers, width)`` attributions: the top ``percent`` % of each
    layer by mean attribution over the topic's prompts."""
    labels = np.asarray(labels)
    out = {}
    for topic in topics:
        mine = labels == topic
        if not mine.any():
            raise ClusterError(f"no prompts for topic {topic!r}; the prompts have {sorted(set(labels.tolist()))}")
        pairs, scores = top_percent(attr[mine].mean(axis=0), percent)
        out[topic] = Cluster(
            name=topic, neurons=tuple(pairs), scores=tuple(scores), method="attribution", site=site, topic=topic,
            detail=f"top {percent:g}% of each layer's {site} units by mean activation x gradient of the "
                   f"answer logit over {int(mine.sum())} {topic!r} prompts",
            **where,
        )
    return out


def find_attribution_clusters(
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
    """One cluster per topic: the top ``percent`` % of each layer's units by attribution on the ``split`` prompts."""
    chosen = select_split(prompts, split)
    wanted = tuple(topics) if topics is not None else topics_of(chosen)
    attr = answer_attributions(engine, chosen, site, progress)
    where = provenance(engine, chosen, f"{prompt_set}:{split or 'all'}")
    return attribution_clusters_from_scores(attr, [p.topic for p in chosen], percent, wanted, site=site, **where)
