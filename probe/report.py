"""One concept probed at every site of a model: accuracies, baselines, where it appears, and its sparsity."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from engine import Engine
from probe.concepts import ConceptSet, load_concept
from probe.features import last_token_features
from probe.fit import FittedProbe, SiteScore, appears_at, majority, score_sites
from probe.sites import Site
from probe.sparsity import SparsityPoint, l1_path, units_for

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
