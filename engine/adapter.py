"""The adapter: names a causal LM's parts and calls its blocks, from a family table.

Everything above this module is architecture-free. Weights are returned in
the ``(in, out)`` layout whatever the module stores: GPT-2's ``Conv1D`` keeps
``(in, out)``, ``nn.Linear`` keeps ``(out, in)``.
"""

from __future__ import annotations

import operator

import torch
from torch import nn

from engine.errors import ModelLoadError
from engine.families import TABLES, FamilyTable
from engine.frame import Frame, KVTap
from engine.lru import LRU

# Frames (masks, rotary tables) are reused across runs for prompts up to this length.
_FRAME_CACHE_MAX_POS = 512


def _get(root: nn.Module, path: str) -> nn.Module:
    return operator.attrgetter(path)(root)


def stored(module: nn.Module, name: str = "weight") -> torch.Tensor | None:
    """``module``'s parameter ``name``, also when a device_map offloaded it to the CPU or disk.

    An offloaded parameter is a meta tensor between forwards; its values are read from the
    offload hook's weights map (read-only: the hook's own state is left alone, since another
    run may be inside the module) and put on the module's execution device in its dtype.
    """
    tensor = getattr(module, name)
    if tensor is None or tensor.device.type != "meta":
        return None if tensor is None else tensor.detach()
    hook = getattr(module, "_hf_hook", None)
    weights = getattr(hook, "weights_map", None)
    if weights is None:
        raise ModelLoadError(f"parameter {name!r} of {type(module).__name__} is not loaded (meta) and has no "
                             "offloaded copy; load the model again")
    return weights[name].to(device=hook.execution_device, dtype=tensor.dtype)


def weight_in_out(module: nn.Module) -> torch.Tensor:
    """``(in, out)`` weight of a linear map, whether ``nn.Linear`` or GPT-2's ``Conv1D``."""
    weight = stored(module)
    return weight.T if isinstance(module, nn.Linear) else weight


def _execution_device(module: nn.Module) -> torch.device:
    """Where ``module`` computes: its offload hook's execution device, else its weight's device."""
    hook = getattr(module, "_hf_hook", None)
    device = getattr(hook, "execution_device", None)
    if device is not None:
        return torch.device(device) if not isinstance(device, int) else torch.device("cuda", device)
    return module.weight.device


class Adapter:
    """Named parts and block calls of one loaded model (shared; never mutated)."""

    def __init__(self, model: nn.Module) -> None:
        family = model.config.model_type
        if family not in TABLES:
            raise ModelLoadError(
                f"model family {family!r} is not supported; supported families: {', '.join(TABLES)}")
        self.family = family
        self.model = model
        self.config = model.config
        self.table: FamilyTable = TABLES[family]
        t = self.table
        self.blocks = list(_get(model, t.blocks))
        self.attn = [_get(b, t.attn) for b in self.blocks]
        self.attn_o = [_get(b, t.attn_o) for b in self.blocks]
        self.mlp = [_get(b, t.mlp) for b in self.blocks]
        self.mlp_o = [_get(b, t.mlp_o) for b in self.blocks]
        self.ln_attn = [_get(b, t.ln_attn) for b in self.blocks]
        self.ln_mlp = [_get(b, t.ln_mlp) for b in self.blocks]
        self.final_norm = _get(model, t.final_norm)
        self.lm_head = model.get_output_embeddings()
        self.embed_tokens = _get(model, t.embed)
        self.pos_embed = _get(model, t.pos_embed) if t.pos_embed else None
        self.rotary_emb = _get(model, t.rotary) if t.rotary else None
        self.windows = [t.window(self.config, i) for i in range(len(self.blocks))]
        self.parallel = t.parallel(self.config)
        self._frames: LRU[Frame] = LRU(48)
        first = self.embed_tokens.weight
        self.device, self.dtype = _execution_device(self.embed_tokens), first.dtype

    # Sizes -----------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        return len(self.blocks)

    @property
    def n_heads(self) -> int:
        return int(self.config.num_attention_heads)

    @property
    def d_model(self) -> int:
        return int(self.config.hidden_size)

    @property
    def d_head(self) -> int:
        return weight_in_out(self.attn_o[0]).shape[0] // self.n_heads

    @property
    def d_mlp(self) -> int:
        return weight_in_out(self.mlp_o[0]).shape[0]

    @property
    def d_vocab(self) -> int:
        return self.lm_head.weight.shape[0]

    @property
    def n_ctx(self) -> int:
        return int(self.config.max_position_embeddings)

    # Weights ---------------------------------------------------------------
    def W_O(self, layer: int) -> torch.Tensor:
        """``(n_heads, d_head, d_model)``: head h's output map is ``W_O[h]``."""
        return weight_in_out(self.attn_o[layer]).reshape(self.n_heads, self.d_head, self.d_model)

    def b_O(self, layer: int) -> torch.Tensor:
        """``(d_model,)`` attention output bias (zeros if the model has none)."""
        bias = stored(self.attn_o[layer], "bias")
        if bias is None:
            return torch.zeros(self.d_model, device=self.device, dtype=self.dtype)
        return bias

    def W_out(self, layer: int) -> torch.Tensor:
        """``(d_mlp, d_model)`` MLP output weights."""
        return weight_in_out(self.mlp_o[layer])

    # Calls -----------------------------------------------------------------
    def frame(self, q0: int, q1: int) -> Frame:
        """The (cached, for short prompts) frame of rows q0..q1-1; callers hold the engine lock."""
        if q1 > _FRAME_CACHE_MAX_POS:
            return Frame(q0, q1, self.device, self.dtype)
        frame = self._frames.get((q0, q1))
        if frame is None:
            frame = Frame(q0, q1, self.device, self.dtype)
            self._frames.put((q0, q1), frame)
        return frame

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """``tokens``: ``(batch, pos)`` ids -> ``(batch, pos, d_model)`` resid_pre of block 0 (on the model's device)."""
        tokens = tokens.to(self.device)
        h = self.embed_tokens(tokens)
        if self.pos_embed is not None:
            h = h + self.pos_embed(torch.arange(tokens.shape[1], device=tokens.device).unsqueeze(0))
        return h

    def _kwargs(self, layer: int, frame: Frame, kv: KVTap | None) -> dict:
        t = self.table
        kwargs: dict = {t.cache_kw: kv}
        if t.needs_mask:
            kwargs["attention_mask"] = frame.mask(self.windows[layer])
        if self.rotary_emb is not None:
            kwargs["position_embeddings"] = frame.rotary(self.rotary_emb)
        return kwargs

    def block(self, layer: int, h: torch.Tensor, frame: Frame, kv: KVTap | None = None) -> torch.Tensor:
        """``h``: ``(batch, q, d_model)`` resid_pre of ``frame``'s rows -> their resid_post."""
        out = self.blocks[layer](h, **self._kwargs(layer, frame, kv))
        return out[0] if self.table.block_returns_tuple else out

    def attend(self, layer: int, h: torch.Tensor, frame: Frame, kv: KVTap | None = None):
        """Run only the attention of block ``layer`` on resid_pre ``h`` (fills ``kv`` if it records)."""
        return self.attn[layer](self.ln_attn[layer](h), **self._kwargs(layer, frame, kv))

    def mlp_half(self, layer: int, resid_pre: torch.Tensor, attn_out: torch.Tensor) -> torch.Tensor:
        """resid_post of block ``layer`` from its resid_pre and attn_out ``(batch, q, d_model)``.

        The additions follow the transformers blocks' order, so the result is bit-identical.
        """
        if self.parallel:
            return self.mlp[layer](self.ln_mlp[layer](resid_pre)) + attn_out + resid_pre
        resid_mid = attn_out + resid_pre
        return resid_mid + self.mlp[layer](self.ln_mlp[layer](resid_mid))

    def unembed_rows(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(rows, d_model)`` last resid_post -> ``(rows, d_vocab)`` logits, for a few rows.

        For 3+ rows, ``W @ x.T`` runs much faster on CPU than ``x @ W.T`` (MKL's small-M kernels
        for a d_vocab-wide output are slow); the numbers are the same up to float rounding.
        """
        if x.shape[0] <= 2 or not isinstance(self.lm_head, nn.Linear):
            return self.unembed(x)
        logits = (stored(self.lm_head) @ self.final_norm(x).T).T
        return logits if self.lm_head.bias is None else logits + stored(self.lm_head, "bias")

    def unembed(self, x: torch.Tensor, norm: bool = True) -> torch.Tensor:
        """``x``: ``(..., d_model)`` -> ``(..., d_vocab)`` logits (final norm first if ``norm``)."""
        return self.lm_head(self.final_norm(x) if norm else x)
