"""Attention that scales with the prompt: the fused kernel for every run, a pattern only for a layer asked for.

Eager attention builds every layer's ``(n_heads, pos, pos)`` probabilities, so its memory grows
with the square of the prompt even when no pattern is shown. The engine runs its model through
:func:`attention_forward` instead: PyTorch's scaled-dot-product attention (SDPA), which never
keeps the probabilities. A run that wants one layer's pattern names that layer's attention
module in :func:`patterns_of`; for that module alone the probabilities are computed beside the
kernel from the same query, keys (grouped-query heads repeated), mask and scale, exactly as eager
attention computes them. The request lives in a context variable, so it is private to the thread
(and task) that made it: nothing global changes while other sessions run on the shared model.

GPT-Neo's attention in transformers has no SDPA path (it always computes its probabilities), so
it stays eager; its patterns come back the same way.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterable, Iterator

import torch
from torch import nn
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

IMPLEMENTATION = "lenslab_sdpa"
# Families whose transformers attention reads its implementation at call time (the others stay eager).
_DYNAMIC = ("gpt2", "gpt_neox", "llama", "mistral", "qwen2")
_WANTED: ContextVar[frozenset[int]] = ContextVar("lenslab_patterns", default=frozenset())


def probabilities(query: torch.Tensor, key: torch.Tensor, mask: torch.Tensor | None,
                  scaling: float | None) -> torch.Tensor:
    """``(batch, n_heads, q, k)`` float32 softmax of ``query @ key^T * scaling + mask``, as eager attention has it.

    ``query``: ``(batch, n_heads, q, d_head)``; ``key``: ``(batch, n_kv_heads, k, d_head)``, each key head
    shared by ``n_heads / n_kv_heads`` consecutive query heads; ``mask``: additive, ``(batch, 1, q, >= k)``.
    """
    key = key.repeat_interleave(query.shape[1] // key.shape[1], dim=1)
    scale = query.shape[-1] ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query.float(), key.float().transpose(-1, -2)) * scale
    if mask is not None:
        scores = scores + mask[..., : key.shape[-2]].float()
    return torch.softmax(scores, dim=-1)


def attention_forward(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                      attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
                      **kwargs) -> tuple[torch.Tensor, torch.Tensor | None]:
    """transformers' SDPA attention, plus the probabilities when this thread asked for ``module``'s pattern."""
    out, _ = sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                    scaling=scaling, **kwargs)
    if id(module) not in _WANTED.get():
        return out, None
    return out, probabilities(query, key, attention_mask, scaling)


@contextmanager
def patterns_of(modules: Iterable[nn.Module]) -> Iterator[None]:
    """Within the block, these attention modules also return their probabilities (this thread only)."""
    token = _WANTED.set(frozenset(id(m) for m in modules))
    try:
        yield
    finally:
        _WANTED.reset(token)


def use_attention(model: nn.Module, kind: str = "sdpa") -> str:
    """Set ``model`` (not yet shared) to ``kind`` attention: "sdpa" (fast; the eager fallback for families
    without it) or "eager". Returns what it runs: "sdpa" or "eager"."""
    if kind not in ("sdpa", "eager"):
        raise ValueError(f"attention must be 'sdpa' or 'eager', got {kind!r}")
    if kind == "sdpa" and model.config.model_type in _DYNAMIC:
        if IMPLEMENTATION not in ALL_ATTENTION_FUNCTIONS.valid_keys():
            ALL_ATTENTION_FUNCTIONS.register(IMPLEMENTATION, attention_forward)
        model.set_attn_implementation(IMPLEMENTATION)
        return "sdpa"
    if model.config._attn_implementation != "eager":
        model.set_attn_implementation("eager")
    return "eager"
