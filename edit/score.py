"""Edit cases from the demo world, the scores of an edit on its case, and how robust the edit is.

Cases: a fact to rewrite, its paraphrases, its neighbours, held-out text. Because the world is
known, every score is exact: the paraphrases are the relation's other sentence templates cut before
the object, the neighbours are other subjects' facts of the same relation, and the held-out text is
new documents written from the world's sentences.

Scores: efficacy, generalisation, specificity and general damage. Each prompt is run twice through
the engine, without and with the edit's WeightDelta.

Robustness: the edited fact's accuracy under impairment of rising intensity, next to the same curve
for facts the model learnt in training, with random clusters as control. Accuracy of a prompt at one
intensity = the share of noise samples whose top-1 token is the target. Edited: the edit prompt with
the edit, target the new object. Learned: the edit prompt and its neighbours without the edit, targets
their trained answers. The impairment is the Impair page's: one cluster (and random clusters of the
same size per layer), one mode.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from cluster.impair import impairs, random_cluster
from cluster.spec import Cluster, site_width
from edit.spec import EditSpecError, Fact, answer_token_id
from engine.interventions import WeightDelta
from engine.readout import Progress
from promptsets.paths import DEMO_DIR, DEMO_PROMPTS
from promptsets.schema import FactPrompt, load_fact_prompts, load_keyword_prompts
from world import templates as T
from world.config import WorldConfig
from world.corpus import city_sentences, company_sentences, person_sentences
from world.entities import generate_world
from world.prompt_sets import cut


# relation -> (templates, object slot, subject slot)
RELATIONS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "birthplace": (T.BIRTHPLACE, "city", "p"),
    "sport": (T.SPORT, "sport", "p"),
    "style": (T.STYLE, "style", "p"),
    "industry": (T.INDUSTRY, "industry", "x"),
    "based_in": (T.COMPANY_CITY, "city", "x"),
    "country": (T.CITY_COUNTRY, "country", "city"),
}


@dataclass(frozen=True)
class EditCase:
    """A fact to edit with what it is scored on.

    paraphrases: the same subject and relation through other templates (should now give ``fact.new``).
    neighbours:  ``(prompt, answer)`` of other subjects with the same relation (should not change).
    topic:       the demo topic of the subject (names the topic cluster to impair); "" if none.
    """

    fact: Fact
    paraphrases: tuple[str, ...] = ()
    neighbours: tuple[tuple[str, str], ...] = ()
    topic: str = ""


def paraphrases(relation: str, subject: str) -> tuple[str, ...]:
    """The relation's other templates for ``subject``, cut before the object; () for an unknown relation."""
    if relation not in RELATIONS:
        return ()
    templates, slot, who = RELATIONS[relation]
    out = []
    for template in templates[1:]:
        prompt = cut(template, slot, **{who: subject})
        if subject in prompt:  # templates naming the object before the subject cannot ask for it
            out.append(prompt)
    return tuple(out)


def case_for(row: FactPrompt, new: str, facts: Sequence[FactPrompt], n_neighbours: int = 8,
             seed: int = 0) -> EditCase:
    """The case that rewrites ``row``'s answer to ``new``, with neighbours drawn from ``facts``."""
    others = [f for f in facts if f.relation == row.relation and f.subject != row.subject]
    rng = random.Random(f"{seed}:{row.subject}:{row.relation}")
    picked = rng.sample(others, k=min(n_neighbours, len(others)))
    fact = Fact(row.prompt, row.subject, new, row.answer, row.relation)
    return EditCase(fact, paraphrases(row.relation, row.subject), tuple((f.prompt, f.answer) for f in picked),
                    row.topic)


def new_objects(row: FactPrompt, facts: Sequence[FactPrompt]) -> tuple[str, ...]:
    """Every other object the relation takes in the world, sorted (the choices for a new object)."""
    return tuple(sorted({f.answer for f in facts if f.relation == row.relation} - {row.answer}))


def demo_cases(n: int, seed: int = 0, prompts_dir: Path = DEMO_PROMPTS,
               relations: Sequence[str] = tuple(RELATIONS)) -> list[EditCase]:
    """``n`` edit cases spread over ``relations`` (round robin), each with a seeded new object."""
    facts = load_fact_prompts(prompts_dir)
    rng = random.Random(seed)
    pools = {r: [f for f in facts if f.relation == r] for r in relations}
    pools = {r: rng.sample(rows, k=len(rows)) for r, rows in pools.items() if rows}
    if not pools:
        raise EditSpecError(f"no facts of relations {list(relations)} in {prompts_dir}; choose from {list(RELATIONS)}")
    cases: list[EditCase] = []
    i = 0
    while len(cases) < n and any(pools.values()):
        relation = list(pools)[i % len(pools)]
        i += 1
        if pools[relation]:
            row = pools[relation].pop()
            cases.append(case_for(row, rng.choice(new_objects(row, facts)), facts, seed=seed))
    return cases


def heldout_texts(n: int = 48, seed: int = 0, demo_dir: Path = DEMO_DIR) -> tuple[str, ...]:
    """``n`` documents written from the demo world's sentences that are not lines of its corpus.

    The facts are the training facts (so an edit that damages them shows), the documents are new.
    """
    meta = json.loads((Path(demo_dir) / "world.json").read_text(encoding="utf-8"))
    world = generate_world(WorldConfig(**meta["world"]))
    corpus = set((Path(demo_dir) / "corpus.txt").read_text(encoding="utf-8").splitlines())
    pools = [person_sentences(world, p) for p in world.people]
    pools += [company_sentences(world, c) for c in world.companies]
    pools += [city_sentences(city, country) for city, country in world.city_country.items()]
    rng = random.Random(10_000 + seed)
    out: list[str] = []
    while len(out) < n:
        pool = rng.choice(pools)
        doc = " ".join(s.text for s in rng.sample(pool, k=min(len(pool), 3)))
        if doc not in corpus and doc not in out:
            out.append(doc)
    return tuple(out)


def demo_texts(model: str, n_heldout: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(key texts, held-out texts) of a demo-built model folder (one with world.json); empty otherwise."""
    folder = Path(model)
    if not (folder / "world.json").is_file():
        return (), ()
    keys = tuple((folder / "corpus.txt").read_text(encoding="utf-8").splitlines()[:200])
    return keys, heldout_texts(n_heldout, demo_dir=folder) if n_heldout > 0 else ()


KINDS = ("edit", "paraphrase", "neighbour")


@dataclass(frozen=True)
class PromptRow:
    """One prompt before and after the edit: ``target`` is what it should say after it
    (the new object for the edit prompt and paraphrases, the old answer for neighbours)."""

    kind: str
    prompt: str
    target: str
    p_before: float
    p_after: float
    top_before: str
    top_after: str
    target_token: str

    @property
    def hit(self) -> bool:
        """Whether the edited model's top-1 token is the target's first token."""
        return self.top_after == self.target_token


@dataclass(frozen=True)
class EditScores:
    """The four scores of one edit (nan where the case has nothing to score it on).

    efficacy:       1.0 if the edit prompt's top-1 is the new object, else 0.0; ``efficacy_p`` its probability.
    generalisation: share of paraphrases whose top-1 is the new object.
    specificity:    share of neighbours whose top-1 is unchanged by the edit.
    damage:         held-out text loss with the edit minus without it (nats per token).
    """

    efficacy: float
    efficacy_p: float
    generalisation: float
    specificity: float
    damage: float
    rows: tuple[PromptRow, ...] = ()


def _row(engine, kind: str, prompt: str, target: str, delta: WeightDelta) -> PromptRow:
    tid = answer_token_id(engine, target, prompt)
    before, after = engine.run(prompt).probs_mean, engine.run(prompt, [delta]).probs_mean
    tops = engine.token_strs([int(before.argmax()), int(after.argmax()), tid])
    return PromptRow(kind, prompt, target, float(before[tid]), float(after[tid]), tops[0], tops[1], tops[2])


def text_loss(engine, text: str, interventions: Sequence = ()) -> tuple[float, int]:
    """(summed next-token loss in nats, number of predicted tokens) of ``text`` under ``interventions``."""
    tokens = engine.encode(text)
    if len(tokens) < 2:
        return 0.0, 0
    if interventions:
        resid = engine.run_activations(text, list(interventions), "resid_post")[-1]
        logits = engine.unembed(resid)
    else:
        logits = engine.trace(text).logits
    logp = torch.log_softmax(logits[:-1].double(), dim=-1)
    return float(-logp[torch.arange(len(tokens) - 1), torch.tensor(tokens[1:])].sum()), len(tokens) - 1


def general_damage(engine, delta: WeightDelta, texts: Sequence[str]) -> float:
    """Mean loss per token on ``texts`` with the edit minus without it (nan without texts)."""
    if not texts:
        return math.nan
    clean = [text_loss(engine, t) for t in texts]
    edited = [text_loss(engine, t, [delta]) for t in texts]
    n = sum(c[1] for c in clean)
    return (sum(e[0] for e in edited) - sum(c[0] for c in clean)) / max(n, 1)


def score_edit(engine, case: EditCase, delta: WeightDelta, heldout: Sequence[str] = ()) -> EditScores:
    """Run the case's prompts without and with ``delta`` and score the edit."""
    fact = case.fact
    rows = [_row(engine, "edit", fact.prompt, fact.new, delta)]
    rows += [_row(engine, "paraphrase", p, fact.new, delta) for p in case.paraphrases]
    neighbours = [_row(engine, "neighbour", p, a, delta) for p, a in case.neighbours]
    rows += neighbours
    para = [r.hit for r in rows if r.kind == "paraphrase"]
    return EditScores(
        efficacy=float(rows[0].hit), efficacy_p=rows[0].p_after,
        generalisation=float(np.mean(para)) if para else math.nan,
        specificity=float(np.mean([r.top_after == r.top_before for r in neighbours])) if neighbours else math.nan,
        damage=general_damage(engine, delta, heldout), rows=tuple(rows),
    )


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
