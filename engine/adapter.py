"""The adapter: a causal LM's parts by family table, how its blocks are called, and its attention.

The adapter: names a causal LM's parts and calls its blocks, from a family table.

Everything above this module is architecture-free. Weights are returned in
the ``(in, out)`` layout whatever the module stores: GPT-2's ``Conv1D`` keeps
``(in, out)``, ``nn.Linear`` keeps ``(out, in)``.

One table per architecture family: where its parts live and how a block is called.

Module paths are dotted attribute paths: from the ``*ForCausalLM`` model for
the model-level parts, from one block for the block-level parts. Everything
above ``engine/adapter.py`` reads only these tables, never module names.

A small bounded least-recently-used map (not thread-safe: callers hold their own lock).

Which positions a block call computes, and the key/value cache it reads and records.

A run computes either every position, the prefix ``0..pos-2``, or only the last
position; the keys always cover ``0..q1-1``. :class:`Frame` says which rows are
being computed so hooks can map absolute positions to rows, and builds the
causal mask and rotary embeddings for those rows.

Attention that scales with the prompt: the fused kernel for every run, a pattern only for a layer asked for.

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

import operator
from collections import OrderedDict
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Callable, Generic, Hashable, Iterable, Iterator, TypeVar

import torch
from torch import nn
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from engine.errors import ModelLoadError


def _no_window(config, layer: int) -> int | None:
    return None


def _mistral_window(config, layer: int) -> int | None:
    return getattr(config, "sliding_window", None)


def _qwen2_window(config, layer: int) -> int | None:
    layer_types = getattr(config, "layer_types", None)
    if layer_types is not None and layer_types[layer] == "sliding_attention":
        return config.sliding_window
    return None


def _never_parallel(config) -> bool:
    return False


def _neox_parallel(config) -> bool:
    return bool(config.use_parallel_residual)


@dataclass(frozen=True)
class FamilyTable:
    """Where one family keeps its parts, and the keyword conventions of its block call.

    attn:       the attention module; its output is ``(attn_out, pattern or None, ...)`` (see :func:`patterns_of`).
    attn_o:     the attention output projection; its input is the concatenated per-head ``z``.
    mlp:        the MLP; its input is ``mlp_in`` (after the norm), its output ``mlp_out``.
    mlp_o:      the MLP output projection; its input is ``mlp_post`` (the neurons).
    cache_kw:   the keyword under which the block and attention take a key/value cache.
    needs_mask: whether the attention needs an explicit additive causal mask
                (GPT-Neo builds its own, global or local, from a buffer).
    """

    blocks: str
    embed: str
    pos_embed: str | None
    rotary: str | None
    final_norm: str
    attn: str
    attn_o: str
    mlp: str
    mlp_o: str
    ln_attn: str
    ln_mlp: str
    cache_kw: str
    needs_mask: bool
    block_returns_tuple: bool
    window: Callable[[object, int], int | None] = _no_window
    parallel: Callable[[object], bool] = _never_parallel


_LLAMA_STYLE = dict(
    blocks="model.layers", embed="model.embed_tokens", pos_embed=None, rotary="model.rotary_emb",
    final_norm="model.norm", attn="self_attn", attn_o="self_attn.o_proj", mlp="mlp",
    mlp_o="mlp.down_proj", ln_attn="input_layernorm", ln_mlp="post_attention_layernorm",
    cache_kw="past_key_values", needs_mask=True, block_returns_tuple=False,
)

TABLES: dict[str, FamilyTable] = {
    "gpt2": FamilyTable(
        blocks="transformer.h", embed="transformer.wte", pos_embed="transformer.wpe", rotary=None,
        final_norm="transformer.ln_f", attn="attn", attn_o="attn.c_proj", mlp="mlp",
        mlp_o="mlp.c_proj", ln_attn="ln_1", ln_mlp="ln_2", cache_kw="past_key_values",
        needs_mask=True, block_returns_tuple=False,
    ),
    "gpt_neo": FamilyTable(
        blocks="transformer.h", embed="transformer.wte", pos_embed="transformer.wpe", rotary=None,
        final_norm="transformer.ln_f", attn="attn", attn_o="attn.attention.out_proj", mlp="mlp",
        mlp_o="mlp.c_proj", ln_attn="ln_1", ln_mlp="ln_2", cache_kw="layer_past",
        needs_mask=False, block_returns_tuple=True,
    ),
    "gpt_neox": FamilyTable(
        blocks="gpt_neox.layers", embed="gpt_neox.embed_in", pos_embed=None,
        rotary="gpt_neox.rotary_emb", final_norm="gpt_neox.final_layer_norm", attn="attention",
        attn_o="attention.dense", mlp="mlp", mlp_o="mlp.dense_4h_to_h", ln_attn="input_layernorm",
        ln_mlp="post_attention_layernorm", cache_kw="layer_past", needs_mask=True,
        block_returns_tuple=False, parallel=_neox_parallel,
    ),
    "llama": FamilyTable(**_LLAMA_STYLE),
    "mistral": FamilyTable(**_LLAMA_STYLE, window=_mistral_window),
    "qwen2": FamilyTable(**_LLAMA_STYLE, window=_qwen2_window),
}

FAMILIES: tuple[str, ...] = tuple(TABLES)


V = TypeVar("V")


class LRU(Generic[V]):
    """Keeps at most ``max_items`` values and, if ``size`` is given, at most ``max_bytes`` in total.

    The newest value is always kept, even if it alone exceeds ``max_bytes``.
    """

    def __init__(self, max_items: int, max_bytes: int | None = None,
                 size: Callable[[V], int] | None = None) -> None:
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1, got {max_items}")
        self.max_items, self.max_bytes, self._size = max_items, max_bytes, size
        self._data: OrderedDict[Hashable, V] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._data

    def get(self, key: Hashable) -> V | None:
        """The value for ``key`` (now the most recent), or None."""
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: Hashable, value: V) -> None:
        """Store ``value``, evicting the least recently used entries beyond the bounds."""
        if key in self._data:
            self._bytes -= self._nbytes(self._data.pop(key))
        self._data[key] = value
        self._bytes += self._nbytes(value)
        while len(self._data) > 1 and (len(self._data) > self.max_items or self._over_budget()):
            _, old = self._data.popitem(last=False)
            self._bytes -= self._nbytes(old)

    def clear(self) -> None:
        """Forget everything."""
        self._data.clear()
        self._bytes = 0

    def _nbytes(self, value: V) -> int:
        return self._size(value) if self._size is not None else 0

    def _over_budget(self) -> bool:
        return self.max_bytes is not None and self._bytes > self.max_bytes


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
