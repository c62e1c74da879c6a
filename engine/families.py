"""One table per architecture family: where its parts live and how a block is called.

Module paths are dotted attribute paths: from the ``*ForCausalLM`` model for
the model-level parts, from one block for the block-level parts. Everything
above ``engine/adapter.py`` reads only these tables, never module names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


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

    attn:       the attention module; its output is ``(attn_out, pattern or None, ...)`` (see ``engine.attention``).
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
