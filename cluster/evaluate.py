"""Score a set of keyword prompts under a list of interventions, per topic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cluster.metrics import METRICS, prompt_metrics
from cluster.prompts import answer_token, select_split, topics_of
from engine.engine import Engine
from engine.interventions import Intervention
from promptsets.schema import KeywordPrompt


@dataclass(frozen=True, eq=False)
class EvalSet:
    """Prompts ready to score: their text, answer token, and topic (as an index into ``topics``)."""

    prompts: tuple[str, ...]
    answers: tuple[int, ...]
    topic_index: np.ndarray  # (n_prompts,)
    topics: tuple[str, ...]
    split: str | None

    def counts(self) -> np.ndarray:
        """``(n_topics,)`` number of prompts of each topic."""
        return np.bincount(self.topic_index, minlength=len(self.topics))


def make_eval_set(engine: Engine, prompts: Sequence[KeywordPrompt], split: str | None = "heldout") -> EvalSet:
    """The ``split`` prompts, with their answers tokenised by ``engine``'s tokenizer."""
    chosen = select_split(prompts, split)
    topics = topics_of(chosen)
    return EvalSet(
        prompts=tuple(p.prompt for p in chosen),
        answers=tuple(answer_token(engine, p.answer) for p in chosen),
        topic_index=np.array([topics.index(p.topic) for p in chosen]),
        topics=topics,
        split=split,
    )


def score(engine: Engine, evalset: EvalSet, interventions: Sequence[Intervention] = (), samples: int = 1) -> np.ndarray:
    """``(len(METRICS), n_topics)`` metrics averaged over each topic's prompts.

    With no interventions this is the clean model (its KL is 0).
    """
    per_prompt = np.empty((len(evalset.prompts), len(METRICS)))
    for i, (prompt, answer) in enumerate(zip(evalset.prompts, evalset.answers)):
        result = engine.run(prompt, tuple(interventions), samples=samples)
        per_prompt[i] = prompt_metrics(result.logits, result.clean_logits, answer)
    sums = np.zeros((len(evalset.topics), len(METRICS)))
    np.add.at(sums, evalset.topic_index, per_prompt)
    return (sums / evalset.counts()[:, None]).T
