"""The lens objective: KL(final || lens) per head, averaged over real positions.

Each head's lens is trained on its own: its loss is the KL from the model's final
next-token distribution to what that head's lens reads off that head's write alone.
The original Attention Lens instead sums all heads' lens outputs of a layer and
trains that sum at the last position only. Per-head training gives each lens a
meaning of its own (what this head alone says about the next token), which is what
a layer x head grid displays; averaging over every real position uses all the
training text instead of one position per sequence.
"""

from __future__ import annotations

from typing import Callable, Iterator

import torch
from torch import Tensor

# Largest (positions x heads x d_vocab) block of lens logits built at once, to bound memory.
MAX_BLOCK = 1 << 25


def head_chunks(n: int, n_heads: int, d_vocab: int) -> Iterator[slice]:
    """Slices of heads such that ``n x heads x d_vocab`` stays under :data:`MAX_BLOCK` (at least one head)."""
    step = max(1, MAX_BLOCK // max(1, n * d_vocab))
    for h0 in range(0, n_heads, step):
        yield slice(h0, min(n_heads, h0 + step))


def kl_per_head(lens_logits: Tensor, log_probs: Tensor, with_grad: bool = False) -> tuple[Tensor, Tensor | None]:
    """Mean over positions of KL(final || lens): ``(n, h, d_vocab)``, ``(n, d_vocab)`` -> ``(h,)``.

    With ``with_grad``, also the gradient of the per-head KL sum with respect to
    ``lens_logits``, ``(softmax(lens) - final) / n``, computed directly: autograd through
    log_softmax would make several more passes over the largest tensor of training.
    """
    with torch.no_grad():
        z = lens_logits.detach()
        peak = z.amax(-1, keepdim=True)
        q = (z - peak).exp_()
        total = q.sum(-1, keepdim=True)
        log_z = total.log() + peak
        probs = log_probs.exp()
        # sum_v p log q = sum_v p z - log Z, because the final distribution p sums to 1.
        cross = torch.einsum("nv,nhv->nh", probs, z) - log_z[..., 0]
        # KL >= 0; only rounding makes it negative when lens and final agree.
        kl = ((probs * log_probs).sum(-1)[:, None] - cross).mean(0).clamp_min(0.0)
        if not with_grad:
            return kl, None
        n = z.shape[0]
        grad = q.div_(total * n).sub_(probs[:, None] / n)
        return kl, grad


def layer_kl(head_logits: Callable[[Tensor, slice], Tensor], writes: Tensor, log_probs: Tensor,
             n_heads: int, backward: bool = False) -> Tensor:
    """``(n_heads,)`` KL of every head's lens on ``writes`` ``(n, n_heads, d_model)``, in memory-bounded chunks.

    ``head_logits(x, heads)`` maps ``(n, h, d_model)`` writes of ``heads`` to logits. With
    ``backward``, each chunk's summed KL is backpropagated at once, so its graph is freed.
    """
    out = torch.empty(n_heads)
    for heads in head_chunks(writes.shape[0], n_heads, log_probs.shape[-1]):
        logits = head_logits(writes[:, heads], heads)
        out[heads], grad = kl_per_head(logits, log_probs, with_grad=backward)
        if backward:
            logits.backward(grad)
    return out
