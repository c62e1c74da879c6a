"""Logistic-regression probes per site: C chosen on a validation carve of train, judged on held-out subjects,
beside a majority-class baseline and a probe fit the same way on shuffled labels."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from probe.concepts import ConceptSet
from probe.sites import Site
from probe.stats import wilson

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
    # One BLAS thread: these problems are small, and a second thread only spins while it waits
    # (the demo's role probes take 7 s with one, 41 s with two on a busy 2-core machine).
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
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
