"""Score an edit on its case: efficacy, generalisation, specificity and general damage.

Each prompt is run twice through the engine, without and with the edit's WeightDelta, so
the scores are exact for the demo world (every answer is known).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from edit.cases import EditCase
from edit.tokens import answer_token_id
from engine.interventions import WeightDelta

KINDS = ("edit", "paraphrase", "neighbour")


@dataclass(frozen=True)
class PromptRow:
    """One prompt before and after the edit: ``target`` is what it should say after it
    (the new object for the edit prompt and paraphrases, the old answer for neighbours)."""

    kind: str
    prompt: str
    target: str
    p_before: float
    p_after: float
    top_before: str
    top_after: str
    target_token: str

    @property
    def hit(self) -> bool:
        """Whether the edited model's top-1 token is the target's first token."""
        return self.top_after == self.target_token


@dataclass(frozen=True)
class EditScores:
    """The four scores of one edit (nan where the case has nothing to score it on).

    efficacy:       1.0 if the edit prompt's top-1 is the new object, else 0.0; ``efficacy_p`` its probability.
    generalisation: share of paraphrases whose top-1 is the new object.
    specificity:    share of neighbours whose top-1 is unchanged by the edit.
    damage:         held-out text loss with the edit minus without it (nats per token).
    """

    efficacy: float
    efficacy_p: float
    generalisation: float
    specificity: float
    damage: float
    rows: tuple[PromptRow, ...] = ()


def _row(engine, kind: str, prompt: str, target: str, delta: WeightDelta) -> PromptRow:
    tid = answer_token_id(engine, target, prompt)
    before, after = engine.run(prompt).probs_mean, engine.run(prompt, [delta]).probs_mean
    tops = engine.token_strs([int(before.argmax()), int(after.argmax()), tid])
    return PromptRow(kind, prompt, target, float(before[tid]), float(after[tid]), tops[0], tops[1], tops[2])


def text_loss(engine, text: str, interventions: Sequence = ()) -> tuple[float, int]:
    """(summed next-token loss in nats, number of predicted tokens) of ``text`` under ``interventions``."""
    tokens = engine.encode(text)
    if len(tokens) < 2:
        return 0.0, 0
    if interventions:
        resid = engine.run_activations(text, list(interventions), "resid_post")[-1]
        logits = engine.unembed(resid)
    else:
        logits = engine.trace(text).logits
    logp = torch.log_softmax(logits[:-1].double(), dim=-1)
    return float(-logp[torch.arange(len(tokens) - 1), torch.tensor(tokens[1:])].sum()), len(tokens) - 1


def general_damage(engine, delta: WeightDelta, texts: Sequence[str]) -> float:
    """Mean loss per token on ``texts`` with the edit minus without it (nan without texts)."""
    if not texts:
        return math.nan
    clean = [text_loss(engine, t) for t in texts]
    edited = [text_loss(engine, t, [delta]) for t in texts]
    n = sum(c[1] for c in clean)
    return (sum(e[0] for e in edited) - sum(c[0] for c in clean)) / max(n, 1)


def score_edit(engine, case: EditCase, delta: WeightDelta, heldout: Sequence[str] = ()) -> EditScores:
    """Run the case's prompts without and with ``delta`` and score the edit."""
    fact = case.fact
    rows = [_row(engine, "edit", fact.prompt, fact.new, delta)]
    rows += [_row(engine, "paraphrase", p, fact.new, delta) for p in case.paraphrases]
    neighbours = [_row(engine, "neighbour", p, a, delta) for p, a in case.neighbours]
    rows += neighbours
    para = [r.hit for r in rows if r.kind == "paraphrase"]
    return EditScores(
        efficacy=float(rows[0].hit), efficacy_p=rows[0].p_after,
        generalisation=float(np.mean(para)) if para else math.nan,
        specificity=float(np.mean([r.top_after == r.top_before for r in neighbours])) if neighbours else math.nan,
        damage=general_damage(engine, delta, heldout), rows=tuple(rows),
    )
