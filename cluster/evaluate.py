"""Score a set of keyword prompts under a list of interventions, per topic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

import torch

from cluster.metrics import METRICS, prompt_metrics, runs_metrics
from cluster.inputs import answer_token, select_split, topics_of
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
    return _by_topic(evalset, per_prompt)


def score_batch(engine: Any, evalset: EvalSet, runs: Sequence[Sequence[Intervention]],
                samples: int = 1) -> np.ndarray:
    """``(len(runs), len(METRICS), n_topics)``: :func:`score` of each run, with each prompt's runs
    computed as one batch (``Engine.run_batch``); equal to scoring run by run up to float rounding."""
    per_prompt = np.empty((len(runs), len(evalset.prompts), len(METRICS)))
    if not runs:
        return np.empty((0, len(METRICS), len(evalset.topics)))
    for i, (prompt, answer) in enumerate(zip(evalset.prompts, evalset.answers)):
        results = engine.run_batch(prompt, [tuple(r) for r in runs], samples=samples)
        logits = torch.stack([r.logits for r in results])
        per_prompt[:, i] = runs_metrics(logits, results[0].clean_logits, answer)
    return np.stack([_by_topic(evalset, per_prompt[r]) for r in range(len(runs))])


def _by_topic(evalset: EvalSet, per_prompt: np.ndarray) -> np.ndarray:
    """``(n_prompts, len(METRICS))`` -> ``(len(METRICS), n_topics)`` means over each topic's prompts."""
    sums = np.zeros((len(evalset.topics), len(METRICS)))
    np.add.at(sums, evalset.topic_index, per_prompt)
    return (sums / evalset.counts()[:, None]).T
