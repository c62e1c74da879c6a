"""How robust an edit is: the edited fact's accuracy under impairment of rising intensity,
next to the same curve for facts the model learnt in training, with random clusters as control.

Accuracy of a prompt at one intensity = the share of noise samples whose top-1 token is the
target. Edited: the edit prompt with the edit, target the new object. Learned: the edit
prompt and its neighbours without the edit, targets their trained answers. The impairment is
the Impair page's: one cluster (and random clusters of the same size per layer), one mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from cluster.impair import impairs, random_cluster
from cluster.spec import Cluster, site_width
from edit.cases import RELATIONS, EditCase
from edit.errors import EditSpecError
from edit.tokens import answer_token_id
from engine.interventions import WeightDelta
from promptsets.schema import load_fact_prompts, load_keyword_prompts
from engine.readout import Progress

ROBUST_MODES = ("noise", "negative_noise", "scale")


@dataclass(frozen=True, eq=False)
class RobustnessCurves:
    """Accuracy against intensity, each ``(n_intensities,)``; the ``*_random`` ones average random clusters."""

    cluster: str
    mode: str
    intensities: np.ndarray
    edited: np.ndarray
    learned: np.ndarray
    edited_random: np.ndarray
    learned_random: np.ndarray

    def halving(self, curve: str = "edited") -> float:
        """The intensity at which ``curve``'s accuracy falls to half its value at the first intensity."""
        return halving_intensity(self.intensities, getattr(self, curve))


def halving_intensity(intensities: Sequence[float], accuracy: Sequence[float]) -> float:
    """First crossing of half the starting accuracy, interpolated linearly; inf if it never falls that far,
    nan if it starts at 0. Intensities run from gentle to harsh (for scale, from 1 down to 0)."""
    x, y = np.asarray(intensities, dtype=float), np.asarray(accuracy, dtype=float)
    if y[0] <= 0:
        return math.nan
    half = y[0] / 2
    for i in range(1, len(y)):
        if y[i] <= half:
            t = (y[i - 1] - half) / (y[i - 1] - y[i])
            return float(x[i - 1] + t * (x[i] - x[i - 1]))
    return math.inf


def accuracy_curve(engine, items: Sequence[tuple[str, int]], base: Sequence, cluster: Cluster, mode: str,
                   intensities: Sequence[float], samples: int, seed: int, tick: Callable[[], None]) -> np.ndarray:
    """``(n_intensities,)`` mean over ``items`` (prompt, target id) of top-1 accuracy over ``samples`` draws."""
    out = np.empty(len(intensities))
    for j, x in enumerate(intensities):
        ivs = (*base, *impairs(cluster, mode, x, seed=seed))
        hits = [float((engine.run(p, ivs, samples=samples).logits.argmax(dim=-1) == t).float().mean())
                for p, t in items]
        out[j] = np.mean(hits)
        tick()
    return out


def learned_items(engine, case: EditCase, neighbours: int | None = None) -> list[tuple[str, int]]:
    """The learned facts of a case: its own prompt with the old answer (if known) and its first
    ``neighbours`` neighbours (all of them for None)."""
    items = [(p, answer_token_id(engine, a, p)) for p, a in case.neighbours[:neighbours]]
    if case.fact.answer:
        items.insert(0, (case.fact.prompt, answer_token_id(engine, case.fact.answer, case.fact.prompt)))
    return items


def robustness_curves(engine, case: EditCase, delta: WeightDelta, cluster: Cluster, mode: str,
                      intensities: Sequence[float], samples: int = 8, seed: int = 0,
                      baseline_seeds: Sequence[int] = (0, 1), progress: Progress | None = None,
                      learned: tuple[np.ndarray, np.ndarray] | None = None,
                      neighbours: int | None = None) -> RobustnessCurves:
    """Edited against learned accuracy under ``cluster``'s impairment and under random clusters.

    ``neighbours``: how many of the case's neighbours join its own old answer as learned facts (None: all).
    ``learned``: (cluster curve, random curve) measured before for the same case and settings,
    to skip measuring them again (they do not depend on the edit).
    """
    if mode not in ROBUST_MODES:
        raise EditSpecError(f"robustness curves need a graded mode; choose one of {', '.join(ROBUST_MODES)}")
    if not len(intensities):
        raise EditSpecError("give at least one intensity, e.g. 0:4:0.5")
    randoms = [random_cluster(cluster, site_width(engine.spec, cluster.site), s) for s in baseline_seeds]
    edited_items = [(case.fact.prompt, answer_token_id(engine, case.fact.new, case.fact.prompt))]
    jobs = [(edited_items, (delta,))] + ([] if learned else [(learned_items(engine, case, neighbours), ())])
    done, total = [0], len(jobs) * (1 + len(randoms)) * len(intensities)

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    curves = []
    for items, base in jobs:
        own = accuracy_curve(engine, items, base, cluster, mode, intensities, samples, seed, tick)
        rand = np.mean([accuracy_curve(engine, items, base, r, mode, intensities, samples, seed, tick)
                        for r in randoms], axis=0) if randoms else np.full(len(intensities), np.nan)
        curves.append((own, rand))
    learned = learned if learned else curves[1]
    return RobustnessCurves(cluster.name, mode, np.asarray(intensities, dtype=float), curves[0][0], learned[0],
                            curves[0][1], learned[1])


def relation_topics(keyword_answers: dict[str, set[str]], relation_objects: dict[str, set[str]]) -> dict[str, str]:
    """relation -> the topic whose keyword prompts ask for every object of that relation (its own cluster).

    A topic cluster is found on keyword prompts, so it judges only the relation those prompts ask
    for (the athlete cluster: sports, not an athlete's birthplace). A relation no topic covers is absent.
    """
    out = {}
    for relation, objects in relation_objects.items():
        owners = [t for t, answers in keyword_answers.items() if objects and objects <= answers]
        if len(owners) == 1:
            out[relation] = owners[0]
    return out


def own_cluster_relations(prompts: Path, clusters: Path) -> tuple[dict[str, str], list[str]]:
    """(editable relation -> the topic of its own cluster in ``clusters``, the editable relations none covers)."""
    answers: dict[str, set[str]] = {}
    for k in load_keyword_prompts(prompts):
        if (Path(clusters) / f"{k.topic}.json").is_file():
            answers.setdefault(k.topic, set()).add(k.answer)
    objects: dict[str, set[str]] = {}
    for f in load_fact_prompts(prompts):
        if f.relation in RELATIONS:
            objects.setdefault(f.relation, set()).add(f.answer)
    owned = relation_topics(answers, objects)
    return owned, sorted(set(objects) - set(owned))
