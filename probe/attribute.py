"""Which training sentences raised a probe's margin on held-out subjects: TRAK, gradient similarity and random,
each scored against the truth (does a top-k sentence state that subject's label?)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from engine import Engine
from probe.corpus import Sentence, candidate_pool, read_sentences
from probe.errors import ProbeError
from probe.fit import FittedProbe
from probe.grads import GradModel
from probe.concepts import ConceptSet
from probe.stats import wilson
from probe.trak import Projection, cosine_scores, random_scores, trak_scores

METHODS = ("trak", "gradsim", "random")
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class AttributionSpec:
    """How to attribute: held-out ``targets`` subjects (sampled), ``others`` sentences beside theirs, top ``k``,
    projection ``dim``, TRAK ``ridge``, ``seed``."""

    targets: int = 8
    others: int = 200
    k: int = 10
    dim: int = 2048
    ridge: float = 0.01
    seed: int = 0


@dataclass(frozen=True, eq=False)
class Attribution:
    """Scores of every pool sentence for every target, per method.

    targets: held-out subjects; labels: their true labels; pool: the distinct candidate sentences (a text repeated
    in the corpus is one sentence; TRAK's kernel counts its copies in the pool); lines: the corpus lines holding
    each (every copy, all of the corpus); scores: method ->
    ``(n_targets, n_pool)``; truth: ``(n_targets, n_pool)`` bool, sentence states that target's label.
    """

    concept: str
    targets: tuple[str, ...]
    labels: tuple[str, ...]
    pool: tuple[Sentence, ...]
    lines: tuple[tuple[int, ...], ...]
    scores: dict[str, np.ndarray]
    truth: np.ndarray
    k: int

    def top(self, method: str, t: int, k: int | None = None) -> np.ndarray:
        """Pool indices of target ``t``'s top ``k`` sentences by ``method`` (best first; ties by corpus order)."""
        return np.argsort(-self.scores[method][t], kind="stable")[: k or self.k]

    def precision(self, method: str, k: int | None = None) -> tuple[float, float, float]:
        """Precision@k pooled over targets with its Wilson interval: (share, lo, hi)."""
        k = k or self.k
        hits = sum(int(self.truth[t, self.top(method, t, k)].sum()) for t in range(len(self.targets)))
        n = k * len(self.targets)
        return (hits / n, *wilson(hits, n))


def pick_targets(data: ConceptSet, n: int, seed: int) -> list[int]:
    """Up to ``n`` held-out rows (seeded) of ``data``."""
    rows = data.index("heldout")
    return sorted(random.Random(seed).sample(rows, min(n, len(rows))))


def _chunked_grads(gm: GradModel, engine: Engine, texts: list[str], proj: Projection, target_g: torch.Tensor,
                   progress: Progress | None, chunk: int = 256) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Projected features ``(n, dim)``, dots with the target gradients ``(n_targets, n)`` and squared norms ``(n,)``."""
    phis, dots, sq = [], [], []
    for start in range(0, len(texts), chunk):
        G = torch.stack([gm.loglik_grad(engine.encode(t)) for t in texts[start:start + chunk]])
        phis.append(proj.apply(G))
        dots.append(target_g @ G.T)
        sq.append((G * G).sum(dim=1))
        if progress is not None:
            progress("training-sentence gradients", min(len(texts), start + chunk), len(texts))
    return torch.cat(phis), torch.cat(dots, dim=1), torch.cat(sq)


def attribute_probe(engine: Engine, data: ConceptSet, probe: FittedProbe, corpus: Path, facts: Path,
                    spec: AttributionSpec = AttributionSpec(), progress: Progress | None = None) -> Attribution:
    """Score the candidate pool for ``probe``'s margin on sampled held-out subjects of ``data``, by every method."""
    rows = pick_targets(data, spec.targets, spec.seed)
    targets, labels = [data.subjects[i] for i in rows], [data.labels[i] for i in rows]
    sentences = read_sentences(corpus, facts)
    pool = candidate_pool(sentences, targets, spec.others, spec.seed)
    unique = list({s.as_trained: s for s in pool if len(engine.encode(s.as_trained)) >= 2}.values())
    if not unique:
        raise ProbeError("no sentence of the corpus names the held-out subjects; check --corpus and --facts")
    counts = torch.tensor([float(sum(p.as_trained == u.as_trained for p in pool)) for u in unique])
    where: dict[str, list[int]] = {u.as_trained: [] for u in unique}
    for s in sentences:
        if s.as_trained in where:
            where[s.as_trained].append(s.line)
    gm = GradModel(engine, probe.site)
    proj = Projection(gm.n_params, spec.dim, spec.seed)
    target_g = torch.stack([gm.margin_grad(probe, engine.encode(data.prompts[i]), probe.classes.index(data.labels[i]))
                            for i in rows])
    phi, dots, sq = _chunked_grads(gm, engine, [u.as_trained for u in unique], proj, target_g, progress)
    scores = {"trak": trak_scores(phi, proj.apply(target_g), spec.ridge, counts).numpy(),
              "gradsim": cosine_scores(dots, sq, (target_g * target_g).sum(dim=1)).numpy(),
              "random": random_scores(len(rows), len(unique), spec.seed).numpy()}
    truth = np.array([[s.states(t, y) for s in unique] for t, y in zip(targets, labels)])
    return Attribution(data.concept, tuple(targets), tuple(labels), tuple(unique),
                       tuple(tuple(sorted(set(where[u.as_trained]))) for u in unique), scores, truth, spec.k)


def attribution_rows(att: Attribution) -> list[dict]:
    """One CSV row per target, method and rank of its top k."""
    rows = []
    for t, (subject, label) in enumerate(zip(att.targets, att.labels)):
        for method in METHODS:
            for rank, j in enumerate(att.top(method, t), 1):
                s = att.pool[j]
                rows.append({"concept": att.concept, "subject": subject, "label": label, "method": method,
                             "rank": rank, "score": float(att.scores[method][t, j]), "line": s.line,
                             "copies": len(att.lines[j]), "lines": " ".join(map(str, att.lines[j])),
                             "relation": s.relation, "object": s.object, "about_subject": s.subject == subject,
                             "states_fact": bool(att.truth[t, j]), "text": s.text})
    return rows
