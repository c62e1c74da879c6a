"""Clean activations of every layer at a site: batched captures for many prompts, traces for one."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from cluster.errors import ClusterError
from engine.engine import Engine
from engine.trace import Trace
from promptsets.schema import KeywordPrompt

Progress = Callable[[int, int], None]
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
