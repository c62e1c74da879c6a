"""Build a memory: a ``(d_model,)`` vector made from the tokens of a text.

The paper's recipe sums the unembedding rows ``W_U[:, t]`` of the *unique*
tokens of the memory text (no BOS), unnormalised; the embedding rows
``W_E[t]`` are the variant. The scale is applied at injection time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from engine.engine import Engine
from engine.errors import EmptyPromptError
from memory.errors import MemorySpecError

MemorySource = Literal["unembedding", "embedding"]
MEMORY_SOURCES: tuple[str, ...] = ("unembedding", "embedding")


@dataclass(frozen=True)
class MemorySpec:
    """What a memory is made of: ``text``'s unique tokens, rows from ``source``, optionally unit-normalised."""

    text: str
    source: MemorySource = "unembedding"
    normalise: bool = False


def memory_token_ids(engine: Engine, text: str) -> list[int]:
    """The unique token ids of a memory text as it reads inside a prompt, in order of first appearance.

    ``Engine.token_ids`` gives them: no BOS and no stray word-start piece, so a SentencePiece
    tokenizer's bare ``▁`` never joins the memory. Raises MemorySpecError for an empty text.
    """
    try:
        return list(dict.fromkeys(engine.token_ids(text, "memory text")))
    except EmptyPromptError as err:
        raise MemorySpecError(
            f"memory text {text!r} has no tokens; type the entity to inject, e.g. ' Tovaren' (with its leading space)"
        ) from err


def build_memory(engine: Engine, text: str, source: MemorySource = "unembedding", normalise: bool = False) -> np.ndarray:
    """The memory vector of ``text``, shape ``(d_model,)``, float32.

    ``source="unembedding"`` sums ``W_U[:, t]`` (the paper's recipe),
    ``"embedding"`` sums ``W_E[t]``; ``normalise`` rescales the sum to unit norm.
    """
    if source not in MEMORY_SOURCES:
        raise MemorySpecError(f"unknown memory source {source!r}; choose one of {', '.join(MEMORY_SOURCES)}")
    ids = memory_token_ids(engine, text)
    if source == "unembedding":
        rows = engine.W_U[:, ids].T
    else:
        rows = engine.W_E[ids]
    vec = rows.detach().float().sum(dim=0).cpu().numpy().astype(np.float32)
    if normalise:
        norm = float(np.linalg.norm(vec))
        if not np.isfinite(norm) or norm == 0.0:
            raise MemorySpecError(
                f"memory {text!r} from {source} rows has norm {norm}; it cannot be normalised, use normalise=False"
            )
        vec = vec / norm
    return vec


def build_memory_from_spec(engine: Engine, spec: MemorySpec) -> np.ndarray:
    """``build_memory`` for a ``MemorySpec``; shape ``(d_model,)``."""
    return build_memory(engine, spec.text, spec.source, spec.normalise)
