"""Fitting probes: one concept probed at every site of a model, with its baselines, where it appears and its sparsity.

Logistic-regression probes per site: C chosen on a validation carve of train, judged on held-out subjects,
beside a majority-class baseline and a probe fit the same way on shuffled labels.

Sparsity of a concept at one site: held-out accuracy against the number of units an L1 probe keeps.

:class:`ProbeReport` gathers it all for one concept: accuracies, baselines, where it appears, and its sparsity.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from engine import Engine
from probe.concepts import ConceptSet, Site, last_token_features, load_concept, wilson

C_GRID: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)
VAL_SHARE = 0.25  # of the train subjects, carved off to choose C (never the held-out ones)


@dataclass(frozen=True, eq=False)
class FittedProbe:
    """A probe on standardized activations: logits ``(x - mean) / scale @ W.T + b``.

    mean, scale: ``(d,)``; W: ``(n_classes, d)``; b: ``(n_classes,)``; classes in sorted label order.
    """

    site: Site
    classes: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    W: np.ndarray
    b: np.ndarray
    C: float

    def logits(self, x: np.ndarray) -> np.ndarray:
        """``(n, d)`` activations -> ``(n, n_classes)`` logits."""
        return ((x - self.mean) / self.scale) @ self.W.T + self.b

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(n, d)`` -> ``(n,)`` class indices."""
        return self.logits(x).argmax(axis=1)


@dataclass(frozen=True)
class SiteScore:
    """One site's held-out accuracy (with Wilson interval), its shuffled-label twin, and the chosen C's."""

    site: Site
    acc: float
    lo: float
    hi: float
    shuffled: float
    shuffled_lo: float
    shuffled_hi: float
    C: float
    shuffled_C: float


def _fit(x: np.ndarray, y: np.ndarray, C: float, l1: bool = False) -> LogisticRegression:
    kw = dict(l1_ratio=1.0, solver="saga", max_iter=3000, tol=1e-3) if l1 else dict(max_iter=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LogisticRegression(C=C, random_state=0, **kw).fit(x, y)


def _standardize(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(axis=0), np.where(x.std(axis=0) > 1e-8, x.std(axis=0), 1.0)


def choose_C(x: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    """The C of :data:`C_GRID` with the best accuracy on a validation carve of ``x`` (ties: the smaller C).

    ``x``: ``(n_train, d)`` standardized train activations, ``y``: ``(n_train,)`` class indices. C=1 when the
    carve leaves one class to fit on or nothing to judge (tiny sets).
    """
    order = np.random.default_rng(seed).permutation(len(y))
    n_val = int(round(len(y) * VAL_SHARE))
    val, fit = order[:n_val], order[n_val:]
    if n_val == 0 or len(np.unique(y[fit])) < 2:
        return 1.0
    accs = [(_fit(x[fit], y[fit], C).predict(x[val]) == y[val]).mean() for C in C_GRID]
    return C_GRID[int(np.argmax(accs))]


def fit_probe(site: Site, x: np.ndarray, y: np.ndarray, classes: tuple[str, ...], seed: int = 0) -> FittedProbe:
    """A probe on ``x`` ``(n, d)`` for class indices ``y`` ``(n,)``, C chosen by :func:`choose_C`, refit on all of x."""
    mean, scale = _standardize(x)
    z = (x - mean) / scale
    C = choose_C(z, y, seed)
    model = _fit(z, y, C)
    W, b = _full_weights(model, len(classes))
    return FittedProbe(site, classes, mean, scale, W, b, C)


def _full_weights(model: LogisticRegression, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(n_classes, d)`` weights and ``(n_classes,)`` biases over every class (a binary model's second
    class gets w, the first 0; a class absent from train gets -inf bias, never predicted)."""
    d = model.coef_.shape[1]
    W, b = np.zeros((n_classes, d)), np.full(n_classes, -1e9)
    if len(model.classes_) == 2 and model.coef_.shape[0] == 1:
        W[model.classes_[1]], b[model.classes_[1]] = model.coef_[0], model.intercept_[0]
        b[model.classes_[0]] = 0.0
    else:
        W[model.classes_], b[model.classes_] = model.coef_, model.intercept_
    return W, b


# One BLAS thread for the fits: these problems are small, and a second thread only spins while it waits
# (the demo's role probes take 7 s with one, 41 s with two on a busy 2-core machine). Set once per call
# of the two entry points below, not per fit (each setting costs about 2 ms).
ONE_BLAS_THREAD = threadpool_limits.wrap(limits=1, user_api="blas")


@ONE_BLAS_THREAD
def score_sites(data: ConceptSet, feats: dict[Site, np.ndarray], seed: int = 0,
                progress: Callable[[int, int], None] | None = None) -> tuple[list[SiteScore], dict[Site, FittedProbe]]:
    """Every site's :class:`SiteScore` and its probe fit on the true labels."""
    classes = data.classes
    y = np.array([classes.index(label) for label in data.labels])
    tr, ho = np.array(data.index("train")), np.array(data.index("heldout"))
    y_shuffled = np.random.default_rng(seed + 1).permutation(y[tr])
    scores, probes = [], {}
    for i, (site, x) in enumerate(feats.items()):
        probe = fit_probe(site, x[tr], y[tr], classes, seed)
        twin = fit_probe(site, x[tr], y_shuffled, classes, seed)
        hits, twin_hits = int((probe.predict(x[ho]) == y[ho]).sum()), int((twin.predict(x[ho]) == y[ho]).sum())
        scores.append(SiteScore(site, hits / len(ho), *wilson(hits, len(ho)), twin_hits / len(ho),
                                *wilson(twin_hits, len(ho)), probe.C, twin.C))
        probes[site] = probe
        if progress is not None:
            progress(i + 1, len(feats))
    return scores, probes


def majority(data: ConceptSet) -> tuple[str, float, float, float]:
    """The most common train label and its held-out accuracy with Wilson interval: (label, acc, lo, hi)."""
    train = [data.labels[i] for i in data.index("train")]
    label = max(sorted(set(train)), key=train.count)
    held = [data.labels[i] for i in data.index("heldout")]
    hits = sum(h == label for h in held)
    return (label, hits / len(held), *wilson(hits, len(held)))


def appears_at(scores: list[SiteScore], majority_hi: float, kind: str = "resid") -> Site | None:
    """The first site of ``kind`` (embeddings, then layer 0, 1, ...) whose accuracy's lower bound is above the
    majority baseline's upper bound; None when no layer clears it."""
    for s in sorted((s for s in scores if s.site.kind == kind), key=lambda s: s.site.layer):
        if s.lo > majority_hi:
            return s.site
    return None


L1_GRID: tuple[float, ...] = tuple(float(c) for c in np.logspace(-2.5, 1.0, 12))


@dataclass(frozen=True)
class SparsityPoint:
    """One L1 strength ``C``: the units kept (any class's weight nonzero) and the held-out accuracy."""

    C: float
    units: int
    acc: float
    lo: float
    hi: float


@ONE_BLAS_THREAD
def l1_path(data: ConceptSet, x: np.ndarray, grid: tuple[float, ...] = L1_GRID) -> list[SparsityPoint]:
    """``x``: ``(n_subjects, d)`` one site's activations; an L1 probe per C of ``grid``, fit on train, judged on
    held-out: the path from few units to many, sorted by units kept."""
    classes = data.classes
    y = np.array([classes.index(label) for label in data.labels])
    tr, ho = np.array(data.index("train")), np.array(data.index("heldout"))
    mean, scale = _standardize(x[tr])
    z = (x - mean) / scale
    points = []
    for C in grid:
        model = _fit(z[tr], y[tr], C, l1=True)
        units = int((np.abs(model.coef_) > 1e-8).any(axis=0).sum())
        hits = int((model.predict(z[ho]) == y[ho]).sum())
        points.append(SparsityPoint(C, units, hits / len(ho), *wilson(hits, len(ho))))
    return sorted(points, key=lambda p: (p.units, p.C))


def units_for(points: list[SparsityPoint], share: float, floor: float) -> int | None:
    """The fewest units whose accuracy recovers ``share`` of the path's best gain over ``floor`` (the majority
    baseline): a one-number sparsity; None when no point beats the floor."""
    best = max(p.acc for p in points)
    if best <= floor:
        return None
    need = floor + share * (best - floor)
    return min(p.units for p in points if p.acc >= need - 1e-12)


SPARSE_SHARE = 0.9  # sparsity: the fewest units recovering 90% of the best L1 probe's gain over the majority


@dataclass(frozen=True, eq=False)
class ProbeReport:
    """Everything the Probes page and ``python -m probe fit`` show for one concept.

    scores: one per site; probes: the fitted probe per site; appears / appears_mlp: the first resid /
    mlp_out site whose accuracy's lower bound beats the majority's upper bound (None: none does);
    best: the resid site with the highest held-out accuracy (the earliest on ties); path: the L1 path there.
    """

    data: ConceptSet
    majority_label: str
    majority_acc: float
    majority_lo: float
    majority_hi: float
    scores: tuple[SiteScore, ...]
    probes: dict[Site, FittedProbe]
    appears: Site | None
    appears_mlp: Site | None
    best: Site
    path: tuple[SparsityPoint, ...]
    sparse_units: int | None

    def score(self, site: Site) -> SiteScore:
        """The score of ``site``."""
        return next(s for s in self.scores if s.site == site)


def probe_features(data: ConceptSet, feats: dict[Site, np.ndarray], seed: int = 0,
                   progress: Callable[[int, int], None] | None = None) -> ProbeReport:
    """A :class:`ProbeReport` from already captured activations (site -> ``(n_subjects, d)``)."""
    label, acc, lo, hi = majority(data)
    scores, probes = score_sites(data, feats, seed, progress)
    resid = [s for s in scores if s.site.kind == "resid"]
    best = max(resid, key=lambda s: (s.acc, -s.site.layer)).site
    path = l1_path(data, feats[best])
    return ProbeReport(data, label, acc, lo, hi, tuple(scores), probes, appears_at(scores, hi),
                       appears_at(scores, hi, "mlp_out"), best, tuple(path), units_for(path, SPARSE_SHARE, acc))


def probe_concept(engine: Engine, concepts: Path, concept: str, seed: int = 0,
                  progress: Callable[[str, int, int], None] | None = None) -> ProbeReport:
    """Read ``concept``'s subjects from ``concepts``, capture their last tokens, and probe every site."""
    data = load_concept(concepts, concept)

    def step(what: str):
        return None if progress is None else (lambda done, total: progress(what, done, total))

    feats = last_token_features(engine, data.prompts, step("reading activations"))
    return probe_features(data, feats, seed, step("fitting probes"))
