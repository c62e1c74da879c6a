"""What a loaded model is: its family, sizes, and a fingerprint that pins files to it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import torch

# Runtime switches and bookkeeping that do not change what the model computes.
_VOLATILE_KEYS = {
    "transformers_version", "dtype", "torch_dtype", "attn_implementation", "output_attentions",
    "output_hidden_states", "return_dict", "use_cache",
}


@dataclass(frozen=True)
class ModelSpec:
    """Sizes of a loaded model; ``fingerprint`` identifies its config and float32 unembedding.

    ``device`` and ``dtype`` say where it runs and in what precision (e.g. "cuda:0", "bfloat16").
    """

    name: str
    family: str
    n_layers: int
    n_heads: int
    d_model: int
    d_head: int
    d_mlp: int
    d_vocab: int
    n_ctx: int
    fingerprint: str
    device: str = "cpu"
    dtype: str = "float32"


def fingerprint(config, W_U: torch.Tensor) -> str:
    """16 hex digits hashing the config (as sorted JSON) and the ``(d_model, d_vocab)`` unembedding.

    Lenses and clusters store it and refuse to load for a model with another one.
    Keys starting with "_" (such as the folder it was loaded from) and runtime switches are left out.
    """
    settings = {k: v for k, v in config.to_dict().items()
                if not k.startswith("_") and k not in _VOLATILE_KEYS}
    digest = hashlib.blake2b(digest_size=8)
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    # Hash the stored (d_vocab, d_model) layout: W_U is usually a transposed view of it (no copy).
    digest.update(W_U.detach().to("cpu", torch.float32).T.contiguous().numpy().data)
    return digest.hexdigest()
