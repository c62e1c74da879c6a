"""Which training sentences raised a probe's margin on held-out subjects: TRAK, gradient similarity and random,
each scored against the truth (does a top-k sentence state that subject's label?).

Training sentences and what each states: corpus.txt lines cut by corpus_facts.tsv spans.
corpus_facts.tsv has one row per sentence: line (0-based line of corpus.txt), start, end (character
span), subject, relation, object. A sentence *states* a subject's label when its subject is that
subject and its object is the label (e.g. Higrus / sport / football).

Per-example gradients on a private copy of the model: of a sentence's log-likelihood, and of a probe's margin.
The shared model is never touched: :class:`GradModel` deep-copies it to the CPU in float32 with gradients on,
and gradients come from ``torch.autograd.grad`` (nothing is written into ``.grad``).

TRAK scores from projected gradients, the gradient-similarity baseline, and a seeded random ranking.
With ``phi_i = P^T g_i`` (``g_i`` a training sentence's log-likelihood gradient, ``P`` a seeded Gaussian
``(n_params, dim)`` matrix scaled by ``1/sqrt(dim)``) and ``phi_t`` a target's projected margin gradient,
TRAK's score of sentence ``i`` for target ``t`` is ``phi_t^T (Phi^T Phi + lambda I)^-1 phi_i``: positive when
training on the sentence raises the margin. ``lambda`` is ``ridge`` times the mean diagonal of ``Phi^T Phi``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from engine import Engine
from engine.adapter import Adapter
from probe.concepts import EMBED, ConceptSet, ProbeError, Site, wilson
from probe.fit import FittedProbe

FACTS_COLUMNS = ("line", "start", "end", "subject", "relation", "object")


@dataclass(frozen=True)
class Sentence:
    """One training sentence: where it is in the corpus, its text, and the fact it states."""

    line: int
    start: int
    end: int
    subject: str
    relation: str
    object: str
    text: str

    @property
    def as_trained(self) -> str:
        """The text as the model read it in training: after a space unless it starts its line (a name after a
        space is another token than at a line's start, e.g. " Higrus" vs "H" + "igrus")."""
        return self.text if self.start == 0 else " " + self.text

    def states(self, subject: str, label: str) -> bool:
        """Whether this sentence states that ``subject``'s attribute is ``label``."""
        return self.subject == subject and self.object == label


def read_sentences(corpus: Path, facts: Path) -> list[Sentence]:
    """Every sentence of ``facts``, its text cut from ``corpus``; ProbeError for a missing file or a bad row."""
    for path in (corpus, facts):
        if not Path(path).is_file():
            raise ProbeError(f"no file at {path}; attribution needs the corpus.txt and corpus_facts.tsv it was trained on")
    lines = Path(corpus).read_text(encoding="utf-8").split("\n")
    rows = Path(facts).read_text(encoding="utf-8").splitlines()
    if not rows or tuple(rows[0].split("\t")) != FACTS_COLUMNS:
        raise ProbeError(f"{Path(facts).name} must start with the header {' '.join(FACTS_COLUMNS)} (tab-separated)")
    out = []
    for n, row in enumerate(rows[1:], 2):
        parts = row.split("\t")
        try:
            line, start, end = int(parts[0]), int(parts[1]), int(parts[2])
            text = lines[line][start:end]
        except (ValueError, IndexError):
            raise ProbeError(f"{Path(facts).name} row {n} does not point into {Path(corpus).name}") from None
        out.append(Sentence(line, start, end, parts[3], parts[4], parts[5], text))
    return out


def candidate_pool(sentences: list[Sentence], subjects: list[str], n_others: int, seed: int = 0) -> list[Sentence]:
    """Every sentence about or naming one of ``subjects``, plus ``n_others`` sampled (seeded) from the rest;
    in corpus order. The pool keeps attribution tractable: a sentence outside it is never ranked."""
    names = set(subjects)
    mine = [s for s in sentences if s.subject in names or any(n in s.text for n in names)]
    taken = {(s.line, s.start) for s in mine}
    rest = [s for s in sentences if (s.line, s.start) not in taken and len(s.text.split()) > 1]
    others = random.Random(seed).sample(rest, min(n_others, len(rest)))
    return sorted(mine + others, key=lambda s: (s.line, s.start))


PROJECTION_BLOCK = 1 << 14  # rows of P made at once: 16k x dim floats


class Projection:
    """A seeded Gaussian ``(n_params, dim)`` projection scaled by ``1/sqrt(dim)``, never held whole: each block of
    :data:`PROJECTION_BLOCK` rows is drawn again from its own seed whenever it is applied, so memory stays at one
    block however large the model and ``dim``."""

    def __init__(self, n_params: int, dim: int, seed: int = 0) -> None:
        if dim < 1:
            raise ProbeError(f"the projection needs at least one dimension; got {dim}")
        self.n_params, self.dim, self.seed = n_params, dim, seed

    def block(self, i: int) -> torch.Tensor:
        """Rows ``i * PROJECTION_BLOCK`` onward of P."""
        rows = min(PROJECTION_BLOCK, self.n_params - i * PROJECTION_BLOCK)
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + i)
        return torch.randn(rows, self.dim, generator=gen) / self.dim ** 0.5

    def apply(self, g: torch.Tensor) -> torch.Tensor:
        """``(n, n_params)`` -> ``(n, dim)``."""
        out = torch.zeros(g.shape[0], self.dim)
        for i, start in enumerate(range(0, self.n_params, PROJECTION_BLOCK)):
            out += g[:, start:start + PROJECTION_BLOCK] @ self.block(i)
        return out


def trak_scores(phi_train: torch.Tensor, phi_target: torch.Tensor, ridge: float = 0.01,
                counts: torch.Tensor | None = None) -> torch.Tensor:
    """``(n_targets, n_train)`` TRAK scores from ``phi_train`` ``(n_train, dim)`` and ``phi_target`` ``(n_targets, dim)``;
    ``counts`` ``(n_train,)``: copies of each training example, weighing its term of the kernel (default 1)."""
    phi = phi_train.double()
    w = torch.ones(len(phi), dtype=phi.dtype) if counts is None else counts.double()
    K = (phi * w[:, None]).T @ phi
    lam = ridge * float(K.diagonal().mean()) + 1e-12
    K = K + lam * torch.eye(K.shape[0], dtype=K.dtype)
    return (phi_target.double() @ torch.linalg.solve(K, phi.T)).float()


def cosine_scores(dots: torch.Tensor, train_sq: torch.Tensor, target_sq: torch.Tensor) -> torch.Tensor:
    """``(n_targets, n_train)`` cosines of full gradients from their dot products ``(n_targets, n_train)`` and
    squared norms ``(n_train,)``, ``(n_targets,)``."""
    return dots / (target_sq.sqrt()[:, None] * train_sq.sqrt()[None, :]).clamp_min(1e-30)


def random_scores(n_targets: int, n_train: int, seed: int = 0) -> torch.Tensor:
    """``(n_targets, n_train)`` seeded uniform scores: the chance ranking."""
    return torch.rand(n_targets, n_train, generator=torch.Generator().manual_seed(seed + 7))


def upstream_params(adapter: Adapter, site: Site | None) -> list[torch.nn.Parameter]:
    """The weights a probe at ``site`` can depend on: the token embeddings and the blocks up to its layer (every
    weight when ``site`` is None). Weights downstream of the site cannot move the probe's margin, so their part of
    a training gradient only adds noise to the projected inner products. Learned position embeddings are left out:
    every sentence read alone starts at position 0, so their gradient is a direction all sentences share."""
    if site is None:
        return list(adapter.model.parameters())
    keep = [adapter.embed_tokens] + adapter.blocks[: site.layer + 1]
    seen, params = set(), []
    for module in keep:
        for p in module.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                params.append(p)
    return params


class GradModel:
    """A float32 CPU copy of ``engine``'s model; gradients are taken in the weights upstream of ``site``
    (see :func:`upstream_params`), tied ones once."""

    def __init__(self, engine: Engine, site: Site | None = None) -> None:
        self.model = engine.training_copy()
        self.adapter = Adapter(self.model)
        self.params = upstream_params(self.adapter, site)
        self.n_params = sum(p.numel() for p in self.params)

    def _flat(self, out: torch.Tensor) -> torch.Tensor:
        grads = torch.autograd.grad(out, self.params, materialize_grads=True)
        return torch.cat([g.reshape(-1) for g in grads])

    def loglik_grad(self, ids: Sequence[int]) -> torch.Tensor:
        """``(n_params,)`` gradient of the mean next-token log-likelihood of ``ids`` (at least 2 tokens):
        the direction a training step on this sentence moves the weights (times the learning rate)."""
        x = torch.tensor([list(ids)])
        loss = self.model(input_ids=x, labels=x).loss
        return self._flat(-loss)

    def representation(self, ids: Sequence[int], kind: str, layer: int) -> torch.Tensor:
        """``(d_model,)`` the last token's activation at the probe's site, differentiable in the weights."""
        a = self.adapter
        x = torch.tensor([list(ids)])
        h = a.embed(x)
        if kind == "resid" and layer == EMBED:
            return h[0, -1]
        frame = a.frame(0, x.shape[1])
        for block in range(layer):
            h = a.block(block, h, frame)
        out = a.block(layer, h, frame)
        if kind == "resid":
            return out[0, -1]
        attn = a.attend(layer, h, frame)
        attn = attn[0] if isinstance(attn, tuple) else attn
        return (out - h - attn)[0, -1]  # mlp_out: resid_post = resid_pre + attn_out + mlp_out (also in parallel blocks)

    def margin(self, probe: FittedProbe, ids: Sequence[int], label: int) -> torch.Tensor:
        """The probe's margin for class ``label`` on ``ids``: its logit minus the log-sum-exp of the others'."""
        h = self.representation(ids, probe.site.kind, probe.site.layer)
        mean, scale = torch.as_tensor(probe.mean, dtype=torch.float32), torch.as_tensor(probe.scale, dtype=torch.float32)
        W, b = torch.as_tensor(probe.W, dtype=torch.float32), torch.as_tensor(probe.b, dtype=torch.float32)
        logits = W @ ((h - mean) / scale) + b
        others = torch.cat([logits[:label], logits[label + 1:]])
        return logits[label] - torch.logsumexp(others, dim=0)

    def margin_grad(self, probe: FittedProbe, ids: Sequence[int], label: int) -> torch.Tensor:
        """``(n_params,)`` gradient of :meth:`margin` in the weights."""
        return self._flat(self.margin(probe, ids, label))


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
