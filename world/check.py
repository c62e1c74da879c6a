"""Measure what the demo model knows: single-hop and two-hop top-1 accuracy per topic."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.loading import load_pretrained

from engine.tokens import answer_ids
from promptsets.schema import load_fact_prompts, load_keyword_prompts, load_two_hop_prompts


@dataclass(frozen=True)
class Accuracy:
    """Top-1 accuracy of one group of prompts."""

    group: str
    correct: int
    total: int

    @property
    def value(self) -> float:
        return self.correct / self.total if self.total else float("nan")


class Scorer:
    """Top-1 next-token check of prompts against a model folder, loaded offline."""

    def __init__(self, model_dir: Path) -> None:
        self.model, self.tokenizer = load_pretrained(model_dir)

    @torch.no_grad()
    def top1(self, prompt: str, answer: str) -> bool:
        """Whether the model's most likely next token is the answer's first token after ``prompt``."""
        ids = self.tokenizer(prompt, return_tensors="pt").input_ids
        target = answer_ids(self.tokenizer, ids[0].tolist(), prompt, answer, "answer")[0][0]
        return int(self.model(ids).logits[0, -1].argmax()) == target


def _tally(pairs: list[tuple[str, bool]]) -> list[Accuracy]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for group, ok in pairs:
        counts[group][0] += int(ok)
        counts[group][1] += 1
    return [Accuracy(g, c, t) for g, (c, t) in sorted(counts.items())]


def check_model(model_dir: Path, prompts_dir: Path) -> dict[str, list[Accuracy]]:
    """Accuracy tables: single-hop facts and keywords per topic, and two-hop per relation and split."""
    scorer = Scorer(model_dir)
    facts = [(f.topic, scorer.top1(f.prompt, f.answer)) for f in load_fact_prompts(prompts_dir)]
    keywords = [(k.topic, scorer.top1(k.prompt, k.answer)) for k in load_keyword_prompts(prompts_dir)]
    two_hop = [(f"{t.relation} ({t.split})", scorer.top1(t.prompt, t.answer)) for t in load_two_hop_prompts(prompts_dir)]
    return {"single-hop facts": _tally(facts), "keyword prompts": _tally(keywords), "two-hop": _tally(two_hop)}


def format_report(tables: dict[str, list[Accuracy]]) -> str:
    lines = []
    for title, rows in tables.items():
        lines.append(f"{title}:")
        lines += [f"  {r.group:<32} {r.value:6.1%}  ({r.correct}/{r.total})" for r in rows]
    return "\n".join(lines)
