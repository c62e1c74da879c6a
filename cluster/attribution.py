"""Clusters by attribution: units ranked by activation x gradient of the answer (attribution patching).

For a prompt, a unit's attribution ``a * d objective / d a`` at the last position is the
first-order estimate of how much the objective would fall if the unit were zeroed: the
unit's causal share in this answer, from one forward and one backward pass. Objectives:

- ``logit``: the answer's logit;
- ``logprob``: the answer's log-probability (a unit that lifts every logit alike counts zero);
- ``contrast``: the answer's logit minus the mean logit of the other topics' answers, so a unit
  that lifts every answer, whatever the topic, is not counted.

A topic's score for a unit ranks it (``rank``):

- ``mean``: its mean attribution over the topic's prompts;
- ``balanced``: the mean over the topic's answers of each answer's mean attribution, so the
  answers the train prompts ask most often (one sport of eight) do not choose the cluster;
- ``specific``: its mean attribution on the topic minus its mean over the other topics (each
  topic weighed alike): the topic-specific causal share.
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
OBJECTIVES = ("logit", "logprob", "contrast")
RANKS = ("mean", "balanced", "specific")
CHOSEN_RANK = "balanced"  # the best mean specificity on the validation split (bench/cluster.py); the demo ships it
OBJECTIVE_TEXT = {"logit": "the answer's logit", "logprob": "the answer's log-probability",
                  "contrast": "the answer's logit minus the other topics' answers' mean logit"}
RANK_TEXT = {"mean": "the topic's mean", "balanced": "the mean over the topic's answers of each answer's mean",
             "specific": "the topic's mean minus the other topics' mean"}


def check_objective(objective: str) -> None:
    """Refuse an unknown objective, naming the ones there are."""
    if objective not in OBJECTIVES:
        raise ClusterError(f"unknown attribution objective {objective!r}; use one of {', '.join(OBJECTIVES)}")


def check_rank(rank: str) -> None:
    """Refuse an unknown ranking, naming the ones there are."""
    if rank not in RANKS:
        raise ClusterError(f"unknown attribution ranking {rank!r}; use one of {', '.join(RANKS)}")


def check_method(objective: str, rank: str) -> None:
    """Refuse an unknown objective or ranking before any attribution is computed."""
    check_objective(objective)
    check_rank(rank)


def _attribute(engine: Engine, seqs: Sequence[Sequence[int]], targets: Sequence[int], site: str,
               objective: str) -> np.ndarray:
    """``(len(seqs), n_layers, width)`` attributions of ``targets``, in batches of :data:`BATCH`."""
    parts = [engine.attribute(seqs[s:s + BATCH], targets[s:s + BATCH], site, objective).numpy().astype(np.float32)
             for s in range(0, len(seqs), BATCH)]
    return np.concatenate(parts)


def _rivals(engine: Engine, prompts: Sequence[KeywordPrompt]) -> list[tuple[int, ...]]:
    """For each prompt, the answer tokens of the prompts of every other topic (its own answer left out)."""
    by_topic: dict[str, set[int]] = {}
    for p in prompts:
        by_topic.setdefault(p.topic, set()).add(answer_token(engine, p.answer))
    if len(by_topic) < 2:
        raise ClusterError("the contrast objective needs prompts of at least two topics (their answers are what "
                           "a topic's answer is contrasted with); use --objective logit or give more topics")
    out = []
    for p in prompts:
        own = answer_token(engine, p.answer)
        out.append(tuple(sorted(set().union(*(v for t, v in by_topic.items() if t != p.topic)) - {own})))
    return out


def _contrast(engine: Engine, prompts: Sequence[KeywordPrompt], seqs: list[list[int]], site: str,
              progress: Progress | None) -> np.ndarray:
    """Attributions of the answer's logit minus the mean logit of the other topics' answers.

    Activation x gradient is linear in the objective, so this is the answer's logit attribution
    minus the mean of each rival token's logit attribution: one backward pass per distinct token.
    """
    rivals = _rivals(engine, prompts)
    out = _attribute(engine, seqs, [answer_token(engine, p.answer) for p in prompts], site, "logit")
    tokens = sorted(set().union(*map(set, rivals)))
    for done, token in enumerate(tokens, 1):
        rows = [i for i, r in enumerate(rivals) if token in r]
        out[rows] -= _attribute(engine, [seqs[i] for i in rows], [token] * len(rows), site, "logit") / np.array(
            [len(rivals[i]) for i in rows], dtype=np.float32)[:, None, None]
        if progress is not None:
            progress(done, len(tokens))
    return out


def answer_attributions(engine: Engine, prompts: Sequence[KeywordPrompt], site: str = "mlp_post",
                        progress: Progress | None = None, objective: str = "logit") -> np.ndarray:
    """``(n_prompts, n_layers, width)`` activation x gradient of each prompt's ``objective``, at its last position."""
    check_site(site)
    check_objective(objective)
    if not prompts:
        raise ClusterError("attribution needs at least one prompt; check the prompt file and --split")
    seqs = [engine.encode(p.prompt) for p in prompts]
    if objective == "contrast":
        return _contrast(engine, prompts, seqs, site, progress)
    targets = [answer_token(engine, p.answer) for p in prompts]
    parts = []
    for start in range(0, len(prompts), BATCH):
        parts.append(_attribute(engine, seqs[start:start + BATCH], targets[start:start + BATCH], site, objective))
        if progress is not None:
            progress(min(start + BATCH, len(prompts)), len(prompts))
    return np.concatenate(parts)


def topic_scores(attr: np.ndarray, labels: Sequence[str], topic: str, rank: str = "mean",
                 answers: Sequence[str] | None = None) -> np.ndarray:
    """``(n_layers, width)`` the score that ranks each unit for ``topic`` (see the module's ``rank``)."""
    check_rank(rank)
    labels = np.asarray(labels)
    mine = labels == topic
    if not mine.any():
        raise ClusterError(f"no prompts for topic {topic!r}; the prompts have {sorted(set(labels.tolist()))}")
    if rank == "balanced":
        if answers is None or len(answers) != len(labels):
            raise ClusterError("the balanced ranking needs each prompt's answer (one per prompt)")
        answers = np.asarray(answers)
        return np.mean([attr[mine & (answers == a)].mean(axis=0) for a in sorted(set(answers[mine].tolist()))],
                       axis=0)
    own = attr[mine].mean(axis=0)
    if rank == "specific":
        others = sorted(set(labels.tolist()) - {topic})
        if not others:
            raise ClusterError("the specific ranking needs prompts of at least two topics; use --rank mean")
        return own - np.mean([attr[labels == t].mean(axis=0) for t in others], axis=0)
    return own


def attribution_clusters_from_scores(
    attr: np.ndarray, labels: Sequence[str], percent: float, topics: Sequence[str], site: str = "mlp_post",
    *, rank: str = "mean", answers: Sequence[str] | None = None, objective: str = "logit", **where: str,
) -> dict[str, Cluster]:
    """One cluster per topic from ``(n_prompts, n_layers, width)`` attributions (of ``objective``, named in
    the cluster's detail): the top ``percent`` % of each layer by the ``rank`` score."""
    check_method(objective, rank)
    out = {}
    for topic in topics:
        pairs, scores = top_percent(topic_scores(attr, labels, topic, rank, answers), percent)
        n = int(np.sum(np.asarray(labels) == topic))
        out[topic] = Cluster(
            name=topic, neurons=tuple(pairs), scores=tuple(scores), method="attribution", site=site, topic=topic,
            detail=f"top {percent:g}% of each layer's {site} units by activation x gradient of "
                   f"{OBJECTIVE_TEXT[objective]} over {n} {topic!r} prompts (objective {objective}, rank {rank}: "
                   f"{RANK_TEXT[rank]})",
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
    objective: str = "logit",
    rank: str = CHOSEN_RANK,
) -> dict[str, Cluster]:
    """One cluster per topic: the top ``percent`` % of each layer's units by attribution on the ``split`` prompts."""
    check_method(objective, rank)
    chosen = select_split(prompts, split)
    wanted = tuple(topics) if topics is not None else topics_of(chosen)
    attr = answer_attributions(engine, chosen, site, progress, objective)
    where = provenance(engine, chosen, f"{prompt_set}:{split or 'all'}")
    return attribution_clusters_from_scores(attr, [p.topic for p in chosen], percent, wanted, site=site, rank=rank,
                                            answers=[p.answer for p in chosen], objective=objective, **where)
