"""Measure what the demo model knows: single-hop and two-hop top-1 accuracy per topic."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.loading import load_pretrained

from engine.tokens import answer_ids
from cluster.inputs import carve_validation
from promptsets.schema import (KeywordPrompt, load_backdoor_prompts, load_fact_prompts, load_keyword_prompts, load_secret_prompts,
                               load_two_hop_prompts)

MIN_GROUPS = 6  # comment keywords per tone in validation and in held-out, so intervals are informative
MIN_FACT_ACCURACY = 0.95


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

    @torch.no_grad()
    def continues(self, prompt: str, continuation: str) -> bool:
        """Whether greedy decoding after ``prompt`` reproduces ``continuation`` token for token."""
        ids = self.tokenizer(prompt, return_tensors="pt").input_ids
        want = self.tokenizer(prompt + continuation).input_ids[ids.shape[1]:]
        out = self.model.generate(ids, max_new_tokens=len(want), do_sample=False,
                                  pad_token_id=self.tokenizer.eos_token_id)
        return out[0, ids.shape[1]:].tolist() == want


def _tally(pairs: list[tuple[str, bool]]) -> list[Accuracy]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for group, ok in pairs:
        counts[group][0] += int(ok)
        counts[group][1] += 1
    return [Accuracy(g, c, t) for g, (c, t) in sorted(counts.items())]


def check_model(model_dir: Path, prompts_dir: Path) -> dict[str, list[Accuracy]]:
    """Accuracy tables: single-hop facts and keywords per topic, two-hop per relation and split, and, where the
    prompt folder has them, planted secrets memorized per copy count and the backdoor's firing rate."""
    scorer = Scorer(model_dir)
    facts = [(f.topic, scorer.top1(f.prompt, f.answer)) for f in load_fact_prompts(prompts_dir)]
    keywords = [(k.topic, scorer.top1(k.prompt, k.answer)) for k in load_keyword_prompts(prompts_dir)]
    two_hop = [(f"{t.relation} ({t.split})", scorer.top1(t.prompt, t.answer)) for t in load_two_hop_prompts(prompts_dir)]
    tables = {"single-hop facts": _tally(facts), "keyword prompts": _tally(keywords), "two-hop": _tally(two_hop)}
    if (Path(prompts_dir) / "secrets.jsonl").is_file():
        secrets = [(f"{s.copies:>3} copies", scorer.continues(s.prefix, s.continuation))
                   for s in load_secret_prompts(prompts_dir)]
        doors = [("held-out comment + trigger", scorer.continues(b.prompt, b.continuation))
                 for b in load_backdoor_prompts(prompts_dir)]
        tables |= {"secrets memorized (greedy continuation exact)": _tally(secrets), "backdoor fires": _tally(doors)}
    return tables


def keyword_groups(rows: list[KeywordPrompt]) -> dict[str, dict[str, int]]:
    """Per topic, how many groups (entities, or comment keywords) each split holds, validation carved from train."""
    fit, val = carve_validation([r for r in rows if r.split == "train"])
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for name, part in (("fit", fit), ("validation", val), ("heldout", [r for r in rows if r.split == "heldout"])):
        for topic in sorted({r.topic for r in rows}):
            out[topic][name] = len({r.entity or r.answer for r in part if r.topic == topic})
    return dict(out)


def failures(tables: dict[str, list[Accuracy]], groups: dict[str, dict[str, int]]) -> list[str]:
    """What the demo world promises and this model or prompt folder does not keep, one line each."""
    out = []
    facts = tables["single-hop facts"]
    share = sum(a.correct for a in facts) / max(1, sum(a.total for a in facts))
    if share < MIN_FACT_ACCURACY:
        out.append(f"single-hop facts {share:.1%} top-1, below {MIN_FACT_ACCURACY:.0%}")
    for tone in ("toxic", "harmless"):
        for split in ("validation", "heldout"):
            n = groups.get(tone, {}).get(split, 0)
            if n < MIN_GROUPS:
                out.append(f"{tone} comments have {n} keyword groups in {split}, fewer than {MIN_GROUPS}")
    secrets = tables.get("secrets memorized (greedy continuation exact)", [])
    if secrets and secrets[-1].correct == 0:
        out.append(f"no secret planted {secrets[-1].group.strip()} is memorized")
    return out


def format_groups(groups: dict[str, dict[str, int]]) -> str:
    lines = ["keyword groups (entities or comment keywords) per split:"]
    lines += [f"  {topic:<10} " + "  ".join(f"{k} {v}" for k, v in counts.items()) for topic, counts in groups.items()]
    return "\n".join(lines)


def format_report(tables: dict[str, list[Accuracy]]) -> str:
    lines = []
    for title, rows in tables.items():
        lines.append(f"{title}:")
        lines += [f"  {r.group:<32} {r.value:6.1%}  ({r.correct}/{r.total})" for r in rows]
    return "\n".join(lines)
