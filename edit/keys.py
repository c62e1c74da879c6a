"""Statistics of one layer's MLP keys (the neurons, mlp_post) over a text sample, for the rank-one edit."""

from __future__ import annotations

import hashlib
from typing import Sequence

import torch

from edit.errors import EditSpecError

_CACHE: dict[tuple[str, int, str], torch.Tensor] = {}
_CACHE_MAX = 16


def key_second_moment(engine, layer: int, texts: Sequence[str]) -> torch.Tensor:
    """``(d_mlp, d_mlp)`` uncentred second moment ``E[k k^T]`` of block ``layer``'s neurons over every
    position of ``texts``; computed once per (model, layer, texts) and then reused (read-only)."""
    if not texts:
        raise EditSpecError("the rank-one edit needs some text to measure the layer's keys on; pass key texts")
    digest = hashlib.sha256("\x1e".join(texts).encode("utf-8")).hexdigest()
    key = (engine.spec.fingerprint, layer, digest)
    if key not in _CACHE:
        total, count = None, 0
        for text in texts:
            k = engine.trace(text).neurons(layer).double()
            total = k.T @ k if total is None else total + k.T @ k
            count += k.shape[0]
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = (total / count).float()
    return _CACHE[key]
