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

A cluster is impaired at every position, so a unit's attribution sums over every position of the
prompt (the first-order effect of zeroing it everywhere), not the last one only. And the first-order
estimate misses units that only matter once others are gone (a model that stores an answer twice),
so a cluster is grown in ``rounds``: each round recomputes the attributions with the units chosen so
far zeroed and adds each layer's next share (one round is plain attribution patching).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from cluster.errors import ClusterError
from cluster.find import provenance, units_per_layer
from cluster.inputs import answer_token, select_split, topics_of
from cluster.spec import Cluster, check_site
from engine import Engine
from engine.gradients import Zeroed
from promptsets.schema import KeywordPrompt
from engine.readout import Progress

Attribute = Callable[["Zeroed | None"], np.ndarray]  # attributions with {layer: units} zeroed
BATCH = 32
OBJECTIVES = ("logit", "logprob", "contrast")
# per-layer: the same share of every layer; global: the same budget across layers, by score.
ALLOCATIONS = ("per-layer", "global")
RANKS = ("mean", "balanced", "specific")
CHOSEN_RANK = "balanced"  # the best mean specificity on the validation split (bench/cluster.py); the demo ships it
CHOSEN_ROUNDS = 4  # chosen with the rank on the validation split (bench/cluster.py); 1 is one-shot attribution patching
POSITIONS = "all"  # every position, as a cluster is impaired
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


def _rivals(engine: Engine, prompts: Sequence[KeywordPrompt]) -> list[tuple[int, ...]]:
    """For each prompt, the answer tokens of the prompts of every other topic (its own answer left out)."""
    by_topic: dict[str, set[int]] = {}
    for p in prompts:
        by_topic.setdefault(p.topic, set()).add(answer_token(engine, p.answer, p.prompt))
    if len(by_topic) < 2:
        raise ClusterError("the contrast objective needs prompts of at least two topics (their answers are what "
                           "a topic's answer is contrasted with); use --objective logit or give more topics")
    out = []
    for p in prompts:
        own = answer_token(engine, p.answer, p.prompt)
        out.append(tuple(sorted(set().union(*(v for t, v in by_topic.items() if t != p.topic)) - {own})))
    return out


def answer_attributions(engine: Engine, prompts: Sequence[KeywordPrompt], site: str = "mlp_post",
                        progress: Progress | None = None, objective: str = "logit", *,
                        zeroed: Zeroed | None = None, positions: str = POSITIONS) -> np.ndarray:
    """``(n_prompts, n_layers, width)`` activation x gradient of each prompt's ``objective`` (summed over
    ``positions``), with the ``zeroed`` units ({layer: units}) held at zero."""
    check_site(site)
    check_objective(objective)
    if not prompts:
        raise ClusterError("attribution needs at least one prompt; check the prompt file and --split")
    seqs = [engine.encode(p.prompt) for p in prompts]
    targets = [answer_token(engine, p.answer, p.prompt) for p in prompts]
    rivals = _rivals(engine, prompts) if objective == "contrast" else None
    parts = []
    for s in range(0, len(prompts), BATCH):
        parts.append(engine.attribute(
            seqs[s:s + BATCH], targets[s:s + BATCH], site, "logit" if rivals else objective,
            against=rivals[s:s + BATCH] if rivals else None, positions=positions, zeroed=zeroed,
        ).numpy().astype(np.float32))
        if progress is not None:
            progress(min(s + BATCH, len(prompts)), len(prompts))
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


def check_rounds(rounds: int) -> None:
    """Refuse a number of rounds below one."""
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ClusterError(f"rounds must be a whole number of at least 1 (1: one-shot attribution), got {rounds!r}")


def check_allocation(allocate: str) -> None:
    """Refuse an unknown allocation, naming the ones there are."""
    if allocate not in ALLOCATIONS:
        raise ClusterError(f"unknown allocation {allocate!r}; use one of {', '.join(ALLOCATIONS)}")


def _take(row: np.ndarray, n: int) -> list[int]:
    """The ``n`` highest of a (flattened) score row, best first, ties by index."""
    return [int(u) for u in np.argsort(-row, kind="stable")[:n]]


def grow(first: np.ndarray, attribute: Attribute | None, score: Callable[[np.ndarray], np.ndarray], percent: float,
         rounds: int, allocate: str = "per-layer") -> tuple[list[tuple[int, int]], list[float]]:
    """``percent`` % of the units, chosen in ``rounds``: round 1 ranks by ``score(first)``, each later round by
    ``score(attribute(zeroed))`` with the units chosen so far zeroed, and adds its share of the budget.

    ``per-layer``: the top ``percent`` % of each layer. ``global``: the same number of units in all, taken
    across layers by score, so a layer that carries the topic gets more. Returns the (layer, unit) pairs,
    layer by layer in the order chosen, and each unit's score when chosen.
    """
    check_allocation(allocate)
    n_layers, width = first.shape[1:]
    k = units_per_layer(width, percent) * (n_layers if allocate == "global" else 1)
    chosen: dict[int, list[tuple[int, float]]] = {layer: [] for layer in range(n_layers)}
    for r in range(rounds):
        take = k * (r + 1) // rounds - k * r // rounds
        if take == 0:
            continue
        if not any(chosen.values()):
            attr = first
        elif attribute is None:
            raise ClusterError("growing a cluster in rounds needs a way to recompute attributions")
        else:
            attr = attribute({layer: [u for u, _ in got] for layer, got in chosen.items() if got})
        scores = np.array(score(attr), dtype=np.float64)
        for layer, got in chosen.items():
            scores[layer, [u for u, _ in got]] = -np.inf
        if allocate == "global":
            for flat in _take(scores.reshape(-1), take):
                layer, unit = divmod(flat, width)
                chosen[layer].append((unit, float(scores[layer, unit])))
            continue
        for layer, row in enumerate(scores):
            chosen[layer] += [(u, float(row[u])) for u in _take(row, take)]
    pairs = [(layer, u) for layer, got in chosen.items() for u, _ in got]
    return pairs, [v for got in chosen.values() for _, v in got]


def attribution_clusters_from_scores(
    attr: np.ndarray, labels: Sequence[str], percent: float, topics: Sequence[str], site: str = "mlp_post",
    *, rank: str = "mean", answers: Sequence[str] | None = None, objective: str = "logit", rounds: int = 1,
    attribute: Attribute | None = None, allocate: str = "per-layer", **where: str,
) -> dict[str, Cluster]:
    """One cluster per topic from ``(n_prompts, n_layers, width)`` attributions (of ``objective``, named in
    the cluster's detail): the top ``percent`` % of each layer by the ``rank`` score, grown in ``rounds``
    (more than one needs ``attribute(zeroed)``, the attributions with those units zeroed)."""
    check_method(objective, rank)
    check_rounds(rounds)
    check_allocation(allocate)
    out = {}
    for topic in topics:
        pairs, scores = grow(attr, attribute, lambda a: topic_scores(a, labels, topic, rank, answers), percent, rounds,
                             allocate)
        n = int(np.sum(np.asarray(labels) == topic))
        grown = f", grown in {rounds} rounds, each with the units before it zeroed" if rounds > 1 else ""
        share = (f"top {percent:g}% of each layer's" if allocate == "per-layer" else
                 f"{percent:g}% of all (the same budget, allocated across layers by score)")
        out[topic] = Cluster(
            name=topic, neurons=tuple(pairs), scores=tuple(scores), method="attribution", site=site, topic=topic,
            detail=f"{share} {site} units by activation x gradient of "
                   f"{OBJECTIVE_TEXT[objective]} over {n} {topic!r} prompts (objective {objective}, rank {rank}: "
                   f"{RANK_TEXT[rank]}{grown})",
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
    rounds: int = CHOSEN_ROUNDS,
    allocate: str = "per-layer",
) -> dict[str, Cluster]:
    """One cluster per topic: ``percent`` % of the units by attribution on the ``split`` prompts, of each layer or
    allocated across layers (``allocate``, see :func:`grow`), grown in ``rounds`` (see the module).
    ``progress(done, total)`` counts prompt passes: each round after the first passes over every prompt once
    per topic."""
    check_method(objective, rank)
    check_rounds(rounds)
    check_allocation(allocate)
    chosen = select_split(prompts, split)
    wanted = tuple(topics) if topics is not None else topics_of(chosen)
    total = len(chosen) * (1 + len(wanted) * (rounds - 1))
    done = [0]

    def attribute(zeroed: Zeroed | None) -> np.ndarray:
        start = done[0]
        tick = None if progress is None else (lambda d, _n: progress(start + d, total))
        attr = answer_attributions(engine, chosen, site, tick, objective, zeroed=zeroed)
        done[0] = start + len(chosen)
        return attr

    where = provenance(engine, chosen, f"{prompt_set}:{split or 'all'}")
    return attribution_clusters_from_scores(attribute(None), [p.topic for p in chosen], percent, wanted, site=site,
                                            rank=rank, answers=[p.answer for p in chosen], objective=objective,
                                            rounds=rounds, attribute=attribute, allocate=allocate, **where)
