"""Training sentences and what each states: corpus.txt lines cut by corpus_facts.tsv spans.

corpus_facts.tsv has one row per sentence: line (0-based line of corpus.txt), start, end (character
span), subject, relation, object. A sentence *states* a subject's label when its subject is that
subject and its object is the label (e.g. Higrus / sport / football).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from probe.errors import ProbeError

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
