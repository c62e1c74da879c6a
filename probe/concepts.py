"""Labelled subjects of one concept, read from a concepts JSONL (ConceptPrompt rows) and checked.

Each row: ``{"concept": "role", "label": "athlete", "prompt": "Higrus", "subject": "Higrus", "split": "train"}``;
``split`` is "train" (fit probes) or "heldout" (judge them), and no subject may be in both.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from probe.errors import ProbeError

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
