"""What the cluster tools read: keyword prompts, and the model's clean activations on them.

The prompts: a split, its topics, a hash that pins them, each answer's token, and validation
prompts carved from the training ones. The activations: every layer's units at a site, batched
through ``Engine.capture`` at each prompt's last position, traced in full for one prompt, and
their means (for mean ablation).
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np
import torch

from cluster.errors import ClusterError
from engine.engine import Engine
from engine.trace import Trace
from promptsets.schema import KeywordPrompt
from engine.readout import Progress



def select_split(prompts: Sequence[KeywordPrompt], split: str | None) -> list[KeywordPrompt]:
    """The prompts of ``split`` ("train" / "heldout"), or all of them when ``split`` is None."""
    chosen = [p for p in prompts if split is None or p.split == split]
    if not chosen:
        found = sorted({p.split for p in prompts})
        raise ClusterError(f"no keyword prompts in split {split!r}; the prompt set has splits {found}")
    return chosen


def topics_of(prompts: Sequence[KeywordPrompt]) -> tuple[str, ...]:
    """The topics, in the order they first appear."""
    return tuple(dict.fromkeys(p.topic for p in prompts))


def prompt_hash(prompts: Sequence[KeywordPrompt]) -> str:
    """A short, order-sensitive hash of the prompts' topic, text and answer (to pin what a cluster came from)."""
    h = hashlib.sha256()
    for p in prompts:
        h.update(f"{p.topic}\x1f{p.prompt}\x1f{p.answer}\x1e".encode("utf-8"))
    return h.hexdigest()[:16]


def answer_token(engine: Engine, answer: str, prompt: str) -> int:
    """The answer's first token as the model would predict it after ``prompt`` (``Engine.token_id``)."""
    if not answer:
        raise ClusterError(f"answer {answer!r} has no tokens; every keyword prompt needs a non-empty answer")
    return engine.token_id(answer, "keyword answer", first=True, prompt=prompt)


def carve_validation(prompts: Sequence[KeywordPrompt], every: int = 3) -> tuple[list[KeywordPrompt], list[KeywordPrompt]]:
    """(fit, validation) from training prompts: every ``every``-th group of each topic goes to validation.

    A group is one entity's prompts, or, for prompts without an entity, one answer's (one comment
    phrase), so validation shares no entity and no phrase-with-answer with fit, as held-out does
    with train. Choices such as a cluster's size are made on validation, never on held-out.
    """
    if every < 2:
        raise ClusterError(f"every must be at least 2 (1 would leave nothing to fit on), got {every}")
    seen: dict[str, dict[str, int]] = {}
    fit, val = [], []
    for p in prompts:
        groups = seen.setdefault(p.topic, {})
        index = groups.setdefault(p.entity or p.answer, len(groups))
        (val if index % every == every - 1 else fit).append(p)
    return fit, val


# Prompts per captured forward: large enough to amortise the call, small enough for a big model's memory.
BATCH = 32


def site_acts(trace: Trace, site: str, layer: int) -> torch.Tensor:
    """``(pos, width)`` activations of ``site`` in ``layer``: mlp_post (the neurons), mlp_out or mlp_in."""
    if site == "mlp_post":
        return trace.neurons(layer)
    if site == "mlp_out":
        return trace.mlp_out(layer)
    return trace.mlp_in(layer)


def prompt_acts(engine: Engine, prompt: str, site: str) -> np.ndarray:
    """``(n_layers, pos, width)`` clean activations of ``site`` for one prompt."""
    trace = engine.trace(prompt)
    return np.stack([site_acts(trace, site, layer).numpy() for layer in range(engine.spec.n_layers)])


def last_position_acts(
    engine: Engine, prompts: Sequence[KeywordPrompt], site: str = "mlp_post", progress: Progress | None = None
) -> np.ndarray:
    """``(n_prompts, n_layers, width)`` clean activations at each prompt's last position.

    The last position is the one that predicts the answer, so that is where a
    topic's units should fire. Prompts go through ``Engine.capture`` in batches.
    """
    rows = []
    for start in range(0, len(prompts), BATCH):
        chunk = prompts[start : start + BATCH]
        seqs = [engine.encode(p.prompt) for p in chunk]
        got = engine.capture(seqs, sites=(site,))
        last = torch.cumsum(torch.tensor([len(s) for s in seqs]), 0) - 1  # each row's last real position
        rows.append(torch.stack([got.at(site, l)[last] for l in range(engine.spec.n_layers)], dim=1).numpy())
        for i in range(start, start + len(chunk)):
            if progress is not None:
                progress(i + 1, len(prompts))
    if not rows:
        return np.zeros((0, engine.spec.n_layers, 0), dtype=np.float32)
    return np.concatenate(rows).astype(np.float32)


def unit_means(engine: Engine, texts: Sequence[str], site: str = "mlp_post") -> np.ndarray:
    """``(n_layers, width)`` mean clean activation over every position of every prompt text (for mean ablation)."""
    total, count = None, 0
    for text in texts:
        acts = prompt_acts(engine, text, site).astype(np.float64)
        total = acts.sum(axis=1) if total is None else total + acts.sum(axis=1)
        count += acts.shape[1]
    if total is None:
        raise ClusterError("mean activations need at least one prompt; pick a prompt set with prompts in it")
    return (total / count).astype(np.float32)
