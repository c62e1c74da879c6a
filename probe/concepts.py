"""What a probe reads: one concept's labelled subjects, the sites a probe reads at, and their activations.

The package's one error type for a user's mistake (:class:`ProbeError`); the Wilson interval its shares carry.

Labelled subjects of one concept, read from a concepts JSONL (ConceptPrompt rows) and checked.

Each row: ``{"concept": "role", "label": "athlete", "prompt": "Higrus", "subject": "Higrus", "split": "train"}``;
``split`` is "train" (fit probes) or "heldout" (judge them), and no subject may be in both.

Where a probe reads: the residual stream after a block (or the embeddings) or an MLP's output. Each prompt's
last-token activations at every probe site are read through the Engine's clean trace.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, Sequence

import numpy as np

from engine import Engine
from engine.errors import LensLabError


class ProbeError(LensLabError, ValueError):
    """The concepts file, the concept, the layer or the corpus of a probe cannot be used (the message says why)."""


SPLITS = ("train", "heldout")
FIELDS = ("concept", "label", "prompt", "subject", "split")


@dataclass(frozen=True)
class ConceptSet:
    """One concept's subjects: ``prompts``, ``subjects``, ``labels`` and ``splits`` are parallel tuples."""

    concept: str
    prompts: tuple[str, ...]
    subjects: tuple[str, ...]
    labels: tuple[str, ...]
    splits: tuple[str, ...]

    @property
    def classes(self) -> tuple[str, ...]:
        """The labels, sorted (the probe's class order)."""
        return tuple(sorted(set(self.labels)))

    def index(self, split: str) -> list[int]:
        """Row numbers of ``split``."""
        return [i for i, s in enumerate(self.splits) if s == split]


def read_concept_rows(path: Path) -> list[dict]:
    """Every row of a concepts JSONL; ProbeError for a missing file, bad JSON or a row without the five fields."""
    path = Path(path)
    if not path.is_file():
        raise ProbeError(f"no concepts file at {path}; pass --concepts FILE (JSONL rows with {', '.join(FIELDS)})")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise ProbeError(f"{path.name} line {n} is not JSON; write one object per line") from None
        missing = [f for f in FIELDS if not isinstance(row, dict) or not isinstance(row.get(f), str)]
        if missing:
            raise ProbeError(f"{path.name} line {n} lacks {', '.join(missing)}; every row needs {', '.join(FIELDS)}")
        if row["split"] not in SPLITS:
            raise ProbeError(f"{path.name} line {n}: split {row['split']!r}; use 'train' or 'heldout'")
        rows.append(row)
    return rows


def concept_names(rows: list[dict]) -> list[str]:
    """The concepts of ``rows`` in first-seen order."""
    return list(dict.fromkeys(r["concept"] for r in rows))


def load_concept(path: Path, concept: str) -> ConceptSet:
    """The subjects of ``concept`` in ``path``, checked: ProbeError for an unknown concept, one label,
    a subject in both splits, or a split without subjects."""
    rows = read_concept_rows(path)
    names = concept_names(rows)
    if concept not in names:
        raise ProbeError(f"no concept {concept!r} in {Path(path).name}; it has {', '.join(names) or 'none'}")
    mine = [r for r in rows if r["concept"] == concept]
    labels = Counter(r["label"] for r in mine)
    if len(labels) < 2:
        raise ProbeError(f"concept {concept!r} has one label ({next(iter(labels))!r}); a probe needs two or more")
    both = {r["subject"] for r in mine if r["split"] == "train"} & {r["subject"] for r in mine if r["split"] == "heldout"}
    if both:
        raise ProbeError(f"subject {sorted(both)[0]!r} of {concept!r} is in both splits; put each subject in one")
    for split in SPLITS:
        if not any(r["split"] == split for r in mine):
            raise ProbeError(f"concept {concept!r} has no {split!r} subjects; a probe is fit on train, judged on heldout")
    train_labels = {r["label"] for r in mine if r["split"] == "train"}
    if len(train_labels) < 2:
        raise ProbeError(f"concept {concept!r} has one label among its train subjects; a probe needs two or more")
    return ConceptSet(concept, *(tuple(r[f] for r in mine) for f in ("prompt", "subject", "label", "split")))


SiteKind = Literal["resid", "mlp_out"]
SITE_KINDS: tuple[str, ...] = ("resid", "mlp_out")
EMBED = -1  # resid at layer -1: the embeddings (resid_pre of block 0)


@dataclass(frozen=True, order=True)
class Site:
    """``resid`` at ``layer``: resid_post of that block (layer -1: the embeddings); ``mlp_out``: that MLP's output."""

    kind: str
    layer: int

    @property
    def label(self) -> str:
        """e.g. "resid 2", "resid embed", "mlp_out 0"."""
        return f"{self.kind} {'embed' if self.layer == EMBED else self.layer}"


def all_sites(n_layers: int) -> list[Site]:
    """Every site of a model with ``n_layers`` blocks: resid embed, 0..n-1, then mlp_out 0..n-1."""
    return [Site("resid", layer) for layer in range(EMBED, n_layers)] + [Site("mlp_out", layer) for layer in range(n_layers)]


def check_site(kind: str, layer: int, n_layers: int) -> Site:
    """``Site(kind, layer)``; ProbeError naming the range for a layer the model lacks or an unknown kind."""
    if kind not in SITE_KINDS:
        raise ProbeError(f"unknown site {kind!r}; choose from {', '.join(SITE_KINDS)}")
    lo = EMBED if kind == "resid" else 0
    if not lo <= layer < n_layers:
        raise ProbeError(f"layer {layer} does not exist for {kind}; this model has layers {lo}-{n_layers - 1}"
                         + (" (-1: the embeddings)" if kind == "resid" else ""))
    return Site(kind, layer)


def last_token_features(engine: Engine, prompts: Sequence[str],
                        progress: Callable[[int, int], None] | None = None) -> dict[Site, np.ndarray]:
    """Site -> ``(n_prompts, d_model)`` float32 activations at each prompt's last token.

    resid at layer -1 is the trace's resid_pre of block 0 (the embeddings); resid at layer l its
    resid_post of block l (before the final norm); mlp_out at l the MLP's output.
    """
    n_layers = engine.spec.n_layers
    rows: dict[Site, list[np.ndarray]] = {s: [] for s in all_sites(n_layers)}
    for i, prompt in enumerate(prompts):
        trace = engine.trace(prompt)
        for site in rows:
            if site.kind == "resid":
                rows[site].append(trace.resid[site.layer + 1, -1].numpy())
            else:
                rows[site].append(trace.mlp[site.layer, -1].numpy())
        if progress is not None:
            progress(i + 1, len(prompts))
    return {s: np.stack(v).astype(np.float32) for s, v in rows.items()}


Z95 = 1.959963984540054


def wilson(hits: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval (lo, hi) of a share ``hits / n``; (0, 1) when ``n`` is 0."""
    if n <= 0:
        return 0.0, 1.0
    p = hits / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return max(0.0, (centre - half) / scale), min(1.0, (centre + half) / scale)
