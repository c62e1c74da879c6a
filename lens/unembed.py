"""A frozen copy of a model's final norm and unembedding that lenses can backpropagate through.

Lens training needs gradients with respect to the lens input, never with respect to
the model: calling the shared model's own modules in a backward pass would leave
``.grad`` tensors on weights every session shares. So the final norm is copied with
``requires_grad`` off, and W_U / b_U are detached buffers.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn


_FEW_ROWS = 64


class Unembed(nn.Module):
    """``(..., d_model)`` -> final norm (optional) -> ``@ W_U (+ b_U)`` -> ``(..., d_vocab)``."""

    def __init__(self, norm: nn.Module, W_U: Tensor, b_U: Tensor | None = None) -> None:
        super().__init__()
        self.norm = copy.deepcopy(norm).requires_grad_(False).eval().to("cpu", torch.float32)
        # Views of a CPU float32 model's weights, not copies: W_U of a large model is hundreds of MB.
        # Lenses run on the CPU in float32 whatever the model's device and dtype.
        self.register_buffer("W_U", W_U.detach().to("cpu", torch.float32), persistent=False)
        self.register_buffer("b_U", None if b_U is None else b_U.detach().to("cpu", torch.float32),
                             persistent=False)

    @classmethod
    def from_adapter(cls, adapter) -> Unembed:
        """Copy the final norm and unembedding named by an engine ``Adapter``."""
        head = adapter.lm_head
        return cls(adapter.final_norm, head.weight.detach().T, getattr(head, "bias", None))

    @property
    def d_model(self) -> int:
        return self.W_U.shape[0]

    @property
    def d_vocab(self) -> int:
        return self.W_U.shape[1]

    def forward(self, x: Tensor, norm: bool = True) -> Tensor:
        """``x``: ``(..., d_model)`` -> ``(..., d_vocab)`` logits."""
        h = (self.norm(x) if norm else x).reshape(-1, self.d_model)
        if h.shape[0] <= _FEW_ROWS:
            # With few rows, the CPU matmul is about twice as fast with the (d_vocab, d_model)
            # weight as the left operand (measured on a GPT-2-small unembedding, 12 rows).
            out = (self.W_U.T @ h.T).T.contiguous()
        else:
            out = h @ self.W_U
        out = out.reshape(*x.shape[:-1], self.d_vocab)
        return out if self.b_U is None else out + self.b_U
