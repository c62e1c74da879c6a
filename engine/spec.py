"""What a loaded model is: its family, sizes, and a fingerprint that pins files to it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

# Runtime switches and bookkeeping that do not change what the model computes.
_VOLATILE_KEYS = {
    "transformers_version", "dtype", "torch_dtype", "attn_implementation", "output_attentions",
    "output_hidden_states", "return_dict", "use_cache",
}
# Rows of the unembedding hashed at a time: the float32 copy is one chunk, never the whole matrix.
_CHUNK_ROWS = 1024


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


def _config_digest(config) -> "hashlib.blake2b":
    settings = {k: v for k, v in config.to_dict().items()
                if not k.startswith("_") and k not in _VOLATILE_KEYS}
    digest = hashlib.blake2b(digest_size=8)
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest


def _hash_rows(digest, n_rows: int, rows) -> str:
    """Feed ``rows(i, j)`` (rows i..j-1 of the ``(d_vocab, d_model)`` layout) to ``digest`` as float32."""
    for start in range(0, n_rows, _CHUNK_ROWS):
        chunk = rows(start, min(start + _CHUNK_ROWS, n_rows))
        digest.update(chunk.detach().to("cpu", torch.float32).contiguous().numpy().data)
    return digest.hexdigest()


def fingerprint(config, W_U: torch.Tensor) -> str:
    """16 hex digits hashing the config (as sorted JSON) and the ``(d_model, d_vocab)`` unembedding.

    Lenses and clusters store it and refuse to load for a model with another one.
    Keys starting with "_" (such as the folder it was loaded from) and runtime switches are left out.
    The stored ``(d_vocab, d_model)`` layout is hashed in float32, a chunk of rows at a time.
    """
    stored = W_U.T  # usually a transposed view of the stored weight (no copy)
    return _hash_rows(_config_digest(config), stored.shape[0], lambda i, j: stored[i:j])


def fingerprint_files(config, folder: str | Path, keys: tuple[str, ...], shape: tuple[int, int]) -> str | None:
    """:func:`fingerprint` of the unembedding as stored in ``folder``'s safetensors files (None if absent).

    ``keys``: the names the unembedding may have in the files; ``shape``: its ``(d_vocab, d_model)``.
    Read from the files, the fingerprint is the same in whatever precision the model was loaded.
    """
    from safetensors import safe_open

    for path in sorted(Path(folder).glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as handle:
            stored = set(handle.keys())
            found = [k for k in keys if k in stored]
            if not found:
                continue
            rows = handle.get_slice(found[0])
            if tuple(rows.get_shape()) != tuple(shape):
                return None
            return _hash_rows(_config_digest(config), shape[0], lambda i, j: rows[i:j])
    return None
