"""Clean activations of every layer at a site, read from the engine's traces."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch

from world.prompts import KeywordPrompt

Progress = Callable[[int, int], None]


def site_acts(trace: Any, site: str, layer: int) -> torch.Tensor:
    """``(pos, width)`` activations of ``site`` in ``layer``: mlp_post (the neurons), mlp_out or mlp_in."""
    if site == "mlp_post":
        return trace.neurons(layer)
    if site == "mlp_out":
        return trace.mlp_out(layer)
    return trace.mlp_in(layer)


def prompt_acts(engine: Any, prompt: str, site: str) -> np.ndarray:
    """``(n_layers, pos, width)`` clean activations of ``site`` for one prompt."""
    trace = engine.trace(prompt)
    return np.stack([site_acts(trace, site, layer).numpy() for layer in range(engine.spec.n_layers)])


def last_position_acts(
    engine: Any, prompts: Sequence[KeywordPrompt], site: str = "mlp_post", progress: Progress | None = None
) -> np.ndarray:
    """``(n_prompts, n_layers, width)`` clean activations at each prompt's last position.

    The last position is the one that predicts the answer, so that is where a
    topic's units should fire.
    """
    rows = []
    for i, p in enumerate(prompts):
        rows.append(prompt_acts(engine, p.prompt, site)[:, -1, :])
        if progress is not None:
            progress(i + 1, len(prompts))
    return np.stack(rows).astype(np.float32)


def unit_means(engine: Any, texts: Sequence[str], site: str = "mlp_post") -> np.ndarray:
    """``(n_layers, width)`` mean clean activation over every position of every prompt text (for mean ablation)."""
    total, count = None, 0
    for text in texts:
        acts = prompt_acts(engine, text, site).astype(np.float64)
        total = acts.sum(axis=1) if total is None else total + acts.sum(axis=1)
        count += acts.shape[1]
    if total is None:
        raise ValueError("unit_means needs at least one prompt")
    return (total / count).astype(np.float32)
