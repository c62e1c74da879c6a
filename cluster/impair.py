"""Impair a cluster and read the result: the interventions a cluster becomes, random clusters
of the same shape to compare with, and what the impaired runs do to the next token.

Every run is read through the engine's next-token readout (``engine.readout``). For a set of
keyword prompts: each answer's probability, loss, top-1 accuracy and KL from clean (``METRICS``),
averaged over each topic's prompts (``score``; ``score_batch`` runs each prompt's interventions as
one batch). For the Impair page's live chart: the top next tokens of one run, clean against
impaired, as small numpy arrays a page can cache (``summarise_run``), never full logits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from cluster.errors import ClusterError
from cluster.inputs import answer_token, select_split, topics_of
from cluster.spec import Cluster
from engine.engine import Engine
from engine.errors import NonFiniteError
from engine.interventions import IMPAIR_MODES, Impair, Intervention, Positions
from engine.readout import read_next_token
from promptsets.schema import KeywordPrompt

METRICS: tuple[str, ...] = ("prob", "loss", "accuracy", "kl")
METRIC_LABELS = {
    "prob": "p(answer)",
    "loss": "loss, -log p(answer)",
    "accuracy": "top-1 accuracy",
    "kl": "KL(clean || impaired)",
}
# +1 where a larger value means a more impaired model, -1 where smaller does.
WORSE = np.array([-1.0, 1.0, -1.0, 1.0])


def impairs(
    cluster: Cluster,
    mode: str,
    intensity: float,
    *,
    seed: int = 0,
    positions: Positions = "all",
    means: np.ndarray | None = None,
) -> tuple[Impair, ...]:
    """One Impair per layer of ``cluster``, at the cluster's site.

    means: ``(n_layers, width)`` clean mean activations, needed for mode "mean".
    Each layer gets its own noise seed (derived from ``seed``), so layers do not
    share one noise pattern.
    """
    if mode not in IMPAIR_MODES:
        raise ClusterError(f"unknown impairment mode {mode!r}; use one of {', '.join(IMPAIR_MODES)}")
    if mode == "mean" and means is None:
        raise ClusterError("mode 'mean' needs the units' clean means; compute them with cluster.inputs.unit_means")
    out = []
    for layer, units in cluster.by_layer().items():
        mean = tuple(float(means[layer, u]) for u in units) if mode == "mean" else None
        out.append(Impair(layer=layer, neurons=units, mode=mode, intensity=float(intensity), site=cluster.site,
                          positions=positions, seed=seed * 1000 + layer, mean=mean))
    return tuple(out)


def random_cluster(cluster: Cluster, width: int, seed: int) -> Cluster:
    """A cluster with the same number of units in every layer, drawn at random from all ``width`` units of it.

    The draw may include the cluster's own units, as a random set of that size would: excluding
    them would bias the baseline towards the units the cluster left alone.
    """
    rng = np.random.default_rng(seed)
    pairs = []
    for layer, units in cluster.by_layer().items():
        if len(units) > width:
            raise ClusterError(f"layer {layer} has {len(units)} units in cluster {cluster.name!r} but only {width} "
                               "exist; use a smaller cluster")
        pairs += [(layer, int(u)) for u in rng.choice(width, size=len(units), replace=False)]
    return Cluster(name=f"random-{seed}", neurons=tuple(pairs), method="random", site=cluster.site,
                   fingerprint=cluster.fingerprint, model_name=cluster.model_name,
                   detail=f"random units matching {cluster.name!r} layer by layer (seed {seed})")


def prompt_metrics(logits: torch.Tensor, clean_logits: torch.Tensor, answer: int) -> np.ndarray:
    """``(len(METRICS),)`` metrics of one prompt, averaged over noise samples (the engine's readout).

    logits: ``(samples, d_vocab)`` at the last position; clean_logits: ``(d_vocab,)``;
    answer: the answer's first token id.
    """
    r = read_next_token(logits, clean_logits, k=1, target_id=answer)
    return np.array([r.target_mean, r.target_loss, r.target_top1, r.kl])


def runs_metrics(logits: torch.Tensor, clean_logits: torch.Tensor, answer: int) -> np.ndarray:
    """``(runs, len(METRICS))``: :func:`prompt_metrics` of each of several runs of one prompt.

    logits: ``(runs, samples, d_vocab)`` at the last position; clean_logits: ``(d_vocab,)``.
    """
    return np.stack([prompt_metrics(run, clean_logits, answer) for run in logits])


def metric_index(metric: str) -> int:
    """Position of ``metric`` in METRICS; ClusterError names the choices."""
    if metric not in METRICS:
        raise ClusterError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    return METRICS.index(metric)


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
        answers=tuple(answer_token(engine, p.answer, p.prompt) for p in chosen),
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


def score_batch(engine: Engine, evalset: EvalSet, runs: Sequence[Sequence[Intervention]],
                samples: int = 1) -> np.ndarray:
    """``(len(runs), len(METRICS), n_topics)``: :func:`score` of each run, with each prompt's runs
    computed as one batch (``Engine.run_batch``); equal to scoring run by run up to float rounding."""
    if not runs:
        return np.empty((0, len(METRICS), len(evalset.topics)))
    per_prompt = prompt_scores(engine, evalset, runs, samples)
    return np.stack([_by_topic(evalset, per_prompt[r]) for r in range(len(runs))])


def prompt_scores(engine: Engine, evalset: EvalSet, runs: Sequence[Sequence[Intervention]],
                  samples: int = 1) -> np.ndarray:
    """``(len(runs), n_prompts, len(METRICS))``: each prompt's metrics under each run (for intervals over prompts)."""
    per_prompt = np.empty((len(runs), len(evalset.prompts), len(METRICS)))
    for i, (prompt, answer) in enumerate(zip(evalset.prompts, evalset.answers)):
        results = engine.run_batch(prompt, [tuple(r) for r in runs], samples=samples)
        logits = torch.stack([r.logits for r in results])
        per_prompt[:, i] = runs_metrics(logits, results[0].clean_logits, answer)
    return per_prompt


def _by_topic(evalset: EvalSet, per_prompt: np.ndarray) -> np.ndarray:
    """``(n_prompts, len(METRICS))`` -> ``(len(METRICS), n_topics)`` means over each topic's prompts."""
    sums = np.zeros((len(evalset.topics), len(METRICS)))
    np.add.at(sums, evalset.topic_index, per_prompt)
    return (sums / evalset.counts()[:, None]).T


@dataclass(frozen=True)
class NextTokenProbs:
    """The top next tokens of a clean run against an impaired one (K noise samples).

    ``token_ids``/``labels``: the k candidates, ordered by max(clean, impaired) probability.
    ``clean``, ``impaired``, ``impaired_std``: ``(k,)`` probabilities (mean and sample std over samples).
    ``kl``: mean over samples of KL(clean || impaired), in nats.
    ``target_*``: the target token's probability and 1-based rank, clean and impaired.
    """

    token_ids: np.ndarray
    labels: tuple[str, ...]
    clean: np.ndarray
    impaired: np.ndarray
    impaired_std: np.ndarray
    samples: int
    kl: float
    target_id: int
    target_label: str
    target_clean: float
    target_impaired: float
    rank_clean: int
    rank_impaired: int


def token_label(text: str) -> str:
    """A token's text as a chart label: quoted so leading spaces and newlines show."""
    return repr(text)


def summarise_run(run: Any, token_strs, k: int = 10, target_id: int | None = None) -> NextTokenProbs:
    """The chart's numbers: the engine's next-token readout of ``run`` (see ``RunResult.readout``), with labels.

    ``run.logits``: ``(samples, d_vocab)``; ``run.clean_logits``: ``(d_vocab,)``.
    ``token_strs``: callable ids -> texts (the engine's ``token_strs``).
    ``target_id``: the token whose probability and rank to follow; None = the clean top-1.
    """
    logits, clean_logits = torch.as_tensor(run.logits), torch.as_tensor(run.clean_logits)
    if not (torch.isfinite(logits).all() and torch.isfinite(clean_logits).all()):
        raise NonFiniteError("the impaired run produced NaN or inf; lower the intensity")
    r = read_next_token(logits, clean_logits, k, target_id)
    texts = token_strs([int(i) for i in r.ids] + [r.target_id])
    return NextTokenProbs(
        token_ids=r.ids, labels=tuple(token_label(t) for t in texts[:-1]),
        clean=r.clean, impaired=r.mean, impaired_std=r.std, samples=r.samples, kl=r.kl,
        target_id=r.target_id, target_label=token_label(texts[-1]),
        target_clean=r.target_clean, target_impaired=r.target_mean,
        rank_clean=r.rank_clean, rank_impaired=r.rank_mean,
    )
