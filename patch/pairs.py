"""Clean/corrupted prompt pairs from a prompt set: one template, two subjects, two answers.

For the demo, two facts of the same relation ("X plays" -> " football", "Y plays" ->
" cycling") whose prompts have the same number of tokens, so patching can match them
position by position, and whose answers start with different tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine import Engine
from promptsets.schema import load_fact_prompts


@dataclass(frozen=True)
class PromptPair:
    """A clean prompt and its corrupted twin (same relation, another subject and answer)."""

    relation: str
    clean: str
    clean_answer: str
    corrupted: str
    corrupted_answer: str

    @property
    def label(self) -> str:
        """One line for a picker."""
        return f"{self.relation}: {self.clean!r} -> {self.clean_answer!r}  vs  {self.corrupted!r} -> {self.corrupted_answer!r}"


def fact_pairs(engine: Engine, prompts: Path, per_relation: int = 4) -> list[PromptPair]:
    """Up to ``per_relation`` pairs per relation of ``prompts``/facts.jsonl, in file order.

    Each fact is paired with the next fact of its relation whose prompt has as many tokens
    for ``engine``'s tokenizer and whose answer's first token differs; each fact is used once.
    """
    facts = load_fact_prompts(Path(prompts))
    pairs: list[PromptPair] = []
    by_relation: dict[str, list] = {}
    for fact in facts:
        by_relation.setdefault(fact.relation, []).append(fact)
    for relation, rows in by_relation.items():
        used: set[int] = set()
        found = 0
        keys = [(len(engine.encode(r.prompt)), engine.token_ids(r.answer, "answer")[0]) for r in rows]
        for i, a in enumerate(rows):
            if found >= per_relation or i in used:
                continue
            for j in range(i + 1, len(rows)):
                if j not in used and keys[j][0] == keys[i][0] and keys[j][1] != keys[i][1]:
                    used |= {i, j}
                    b = rows[j]
                    pairs.append(PromptPair(relation, a.prompt, a.answer, b.prompt, b.answer))
                    found += 1
                    break
    return pairs
