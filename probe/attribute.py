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
    projection ``dim``, ``seed``; TRAK's ``ridge``, or None to choose it among ``ridges`` by precision@k on
    ``val_targets`` train subjects (their sentences join the pool), never on held-out ones."""

    targets: int = 8
    others: int = 200
    k: int = 10
    dim: int = 2048
    ridge: float | None = None
    seed: int = 0
    val_targets: int = 4
    ridges: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)


@dataclass(frozen=True, eq=False)
class Attribution:
    """Scores of every pool sentence for every target, per method.

    targets: held-out subjects; labels: their true labels; pool: the distinct candidate sentences (a text repeated
    in the corpus is one sentence; TRAK's kernel counts its copies in the pool); lines: the corpus lines holding
    each (every copy, all of the corpus); scores: method ->
    ``(n_targets, n_pool)``; truth: ``(n_targets, n_pool)`` bool, sentence states that target's label; ridge: the
    TRAK ridge used; val_precision: (ridge, TRAK precision@k on the validation subjects) per ridge tried.
    """

    concept: str
    targets: tuple[str, ...]
    labels: tuple[str, ...]
    pool: tuple[Sentence, ...]
    lines: tuple[tuple[int, ...], ...]
    scores: dict[str, np.ndarray]
    truth: np.ndarray
    k: int
    ridge: float = 0.0
    val_precision: tuple[tuple[float, float], ...] = ()

    def top(self, method: str, t: int, k: int | None = None) -> np.ndarray:
        """Pool indices of target ``t``'s top ``k`` sentences by ``method`` (best first; ties by corpus order)."""
        return np.argsort(-self.scores[method][t], kind="stable")[: k or self.k]

    def precision(self, method: str, k: int | None = None) -> tuple[float, float, float]:
        """Precision@k pooled over targets with its Wilson interval: (share, lo, hi)."""
        return precision_at(self.scores[method], self.truth, k or self.k)


def precision_at(scores: np.ndarray, truth: np.ndarray, k: int) -> tuple[float, float, float]:
    """Precision@k of ``scores`` ``(n_targets, n_pool)`` against ``truth`` (same shape), pooled over targets, with
    its Wilson interval; ties break by pool order."""
    hits = sum(int(truth[t, np.argsort(-scores[t], kind="stable")[:k]].sum()) for t in range(len(scores)))
    n = k * len(scores)
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
    val = [] if spec.ridge is not None else \
        sorted(random.Random(spec.seed + 1).sample(data.index("train"), min(spec.val_targets, len(data.index("train")))))
    sentences = read_sentences(corpus, facts)
    pool = candidate_pool(sentences, [data.subjects[i] for i in rows + val], spec.others, spec.seed)
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
                            for i in rows + val])
    phi, dots, sq = _chunked_grads(gm, engine, [u.as_trained for u in unique], proj, target_g, progress)
    phi_t = proj.apply(target_g)
    truth_all = np.array([[s.states(data.subjects[i], data.labels[i]) for s in unique] for i in rows + val])
    n = len(rows)
    tried = tuple((r, precision_at(trak_scores(phi, phi_t[n:], r, counts).numpy(), truth_all[n:], spec.k)[0])
                  for r in (spec.ridges if val else ()))
    ridge = spec.ridge if spec.ridge is not None else max(tried, key=lambda rp: rp[1])[0]
    scores = {"trak": trak_scores(phi, phi_t[:n], ridge, counts).numpy(),
              "gradsim": cosine_scores(dots[:n], sq, (target_g[:n] * target_g[:n]).sum(dim=1)).numpy(),
              "random": random_scores(n, len(unique), spec.seed).numpy()}
    return Attribution(data.concept, tuple(data.subjects[i] for i in rows), tuple(data.labels[i] for i in rows),
                       tuple(unique), tuple(tuple(sorted(set(where[u.as_trained]))) for u in unique), scores,
                       truth_all[:n], spec.k, ridge, tried)


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
