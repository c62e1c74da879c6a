"""Which positions a block call computes, and the key/value cache it reads and records.

A run computes either every position, the prefix ``0..pos-2``, or only the last
position; the keys always cover ``0..q1-1``. :class:`Frame` says which rows are
being computed so hooks can map absolute positions to rows, and builds the
causal mask and rotary embeddings for those rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Frame:
    """Rows ``q0..q1-1`` of a prompt, attending to keys ``0..q1-1``; masks and rotary tables on ``device``."""

    q0: int
    q1: int
    device: torch.device = torch.device("cpu")
    dtype: torch.dtype = torch.float32
    _masks: dict = field(default_factory=dict, repr=False)
    _rotary: tuple | None = field(default=None, repr=False)

    @property
    def position_ids(self) -> torch.Tensor:
        """``(1, q)`` absolute positions of the rows."""
        return torch.arange(self.q0, self.q1, device=self.device).unsqueeze(0)

    def mask(self, window: int | None) -> torch.Tensor:
        """``(1, 1, q, k)`` additive mask: 0 where a row may attend, the dtype minimum elsewhere.

        A row at position i sees keys j <= i, and with a sliding window only j > i - window.
        """
        if window not in self._masks:
            rows = torch.arange(self.q0, self.q1, device=self.device).unsqueeze(1)
            keys = torch.arange(self.q1, device=self.device).unsqueeze(0)
            allowed = keys <= rows
            if window is not None:
                allowed &= keys > rows - window
            mask = torch.zeros(allowed.shape, dtype=self.dtype, device=self.device)
            mask.masked_fill_(~allowed, torch.finfo(self.dtype).min)
            self._masks[window] = mask[None, None]
        return self._masks[window]

    def rotary(self, rotary_module: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        """``(cos, sin)``, each ``(1, q, rotary_dim)``, from the model's rotary embedding module."""
        if self._rotary is None:
            probe = torch.zeros(1, dtype=self.dtype, device=self.device)
            self._rotary = rotary_module(probe, self.position_ids)
        return self._rotary


class KVTap:
    """A duck-typed key/value cache that attention modules call ``update`` on.

    It prepends ``past[layer]`` (keys/values of earlier positions) to what a
    call computes, expanding their batch to the call's, and, if ``record``,
    keeps the result per layer (``recorded[layer] = (keys, values)``, past included).
    """

    def __init__(self, past: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = None,
                 record: bool = False) -> None:
        self.past = past if past is not None else {}
        self.record = record
        self.recorded: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def update(self, key: torch.Tensor, value: torch.Tensor, layer_idx: int, *args, **kwargs):
        """``key``/``value``: ``(batch, n_kv_heads, q, d_head)``; returns them with the past prepended."""
        past = self.past.get(layer_idx)
        if past is not None:
            past_k, past_v = past
            batch = key.shape[0]
            if past_k.shape[0] != batch:
                past_k = past_k.expand(batch, -1, -1, -1)
                past_v = past_v.expand(batch, -1, -1, -1)
            key, value = torch.cat([past_k, key], dim=-2), torch.cat([past_v, value], dim=-2)
        if self.record:
            self.recorded[layer_idx] = (key, value)
        return key, value

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """Number of cached positions (for code that asks a cache its length)."""
        past = self.past.get(layer_idx)
        return 0 if past is None else past[0].shape[-2]
