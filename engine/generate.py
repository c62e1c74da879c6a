"""Generate text under any intervention, one new position per token through a key/value cache.

The prompt runs once; each new token then runs one position, reading the keys and values
of every earlier position from the cache. The interventions' hooks stay installed (under
the engine's lock) for the whole generation and are removed in ``finally``.

What positions mean for generated tokens (the prompt has ``n`` tokens, positions 0..n-1):

    "all":    every position, the prompt's and every generated token's.
    "last":   the prompt's last position and every generated position: each position whose
              output predicts a new token (so the first token is predicted as ``Engine.run``
              predicts it, and every later one under the same intervention).
    explicit: those prompt positions only (negative ones count from the prompt's end).

Ablate and WeightDelta act at every position; a Patch names its own prompt positions. Noise
(Impair modes noise / negative_noise) is drawn once over the prompt plus ``max_new_tokens``
positions, seeded as in every run. Mean ablation averages over the whole sequence, which
grows as tokens come, so it is refused. Sampling draws from a generator seeded per call
(``seed``); the global random state is never touched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from engine.adapter import Adapter
from engine.errors import GenerationError, NonFiniteError, PromptTooLongError
from engine.adapter import KVTap
from engine.hooks import blame
from engine.hooks import Cursor, installed
from engine.interventions import Intervention, compile_hooks
from engine.spec import ModelSpec


@dataclass(frozen=True)
class Generation:
    """A prompt's continuation: ``new_ids`` after ``prompt_ids`` (EOS included when it came), and ``text``,
    the new tokens decoded without special tokens."""

    prompt_ids: tuple[int, ...]
    new_ids: tuple[int, ...]
    text: str


def for_generation(interventions: Sequence, n_prompt: int, n_total: int) -> tuple:
    """``interventions`` as they act on a generation (see the module docstring and each value's
    ``for_generation``): Impair's and Inject's positions made explicit, mean ablation refused."""
    return tuple(item.for_generation(n_prompt, n_total) if isinstance(item, Intervention) else item
                 for item in interventions)


def check_settings(max_new_tokens: int, temperature: float, top_k: int | None, seed: int) -> None:
    """GenerationError naming the setting unless each is in range."""
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise GenerationError(f"max_new_tokens must be a whole number >= 1, got {max_new_tokens!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
            or not math.isfinite(temperature) or temperature < 0:
        raise GenerationError(f"temperature must be a finite number >= 0 (0 = greedy), got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise GenerationError(f"top_k must be a whole number >= 1 or None (no cut), got {top_k!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise GenerationError(f"seed must be a whole number, got {seed!r}")


def pick_token(logits: torch.Tensor, temperature: float, top_k: int | None, gen: torch.Generator) -> int:
    """``logits``: ``(d_vocab,)`` CPU float32 -> the next token: argmax at temperature 0, else a seeded draw
    from the softmax of ``logits / temperature`` over the ``top_k`` most likely tokens (all if None)."""
    if temperature == 0:
        return int(torch.argmax(logits))
    scaled = logits.double() / temperature
    if top_k is not None and top_k < scaled.numel():
        kth = torch.topk(scaled, top_k).values[-1]
        scaled = scaled.masked_fill(scaled < kth, -math.inf)
    return int(torch.multinomial(torch.softmax(scaled, dim=-1), 1, generator=gen))


def _embed_at(adapter: Adapter, ids: Sequence[int], q0: int) -> torch.Tensor:
    """``(1, q, d_model)`` resid_pre of block 0 for tokens ``ids`` at positions ``q0..``."""
    tokens = torch.tensor([list(ids)], dtype=torch.long, device=adapter.device)
    h = adapter.embed_tokens(tokens)
    if adapter.pos_embed is not None:
        h = h + adapter.pos_embed(torch.arange(q0, q0 + len(ids), device=adapter.device).unsqueeze(0))
    return h


def generate_ids(adapter: Adapter, spec: ModelSpec, lock, prompt: Sequence[int], interventions: Sequence,
                 max_new_tokens: int, temperature: float = 0.0, top_k: int | None = None, seed: int = 0,
                 eos: int | None = None) -> list[int]:
    """The new token ids after ``prompt`` (stopping after ``eos`` if it comes), the model under ``interventions``."""
    check_settings(max_new_tokens, temperature, top_k, seed)
    n_prompt, n_total = len(prompt), len(prompt) + max_new_tokens
    if n_total > spec.n_ctx:
        raise PromptTooLongError(f"{n_prompt} prompt tokens + {max_new_tokens} new ones exceed this model's context "
                                 f"of {spec.n_ctx}; ask for at most {max(spec.n_ctx - n_prompt, 0)} new tokens")
    hooks = compile_hooks(for_generation(interventions, n_prompt, n_total), n_total, 1, spec,
                          adapter.device, adapter.dtype)
    gen = torch.Generator().manual_seed(seed)
    ids, new, q0, past = list(prompt), [], 0, {}
    with lock, torch.no_grad():
        cursor = Cursor(adapter.frame(0, n_prompt))
        with installed(adapter, hooks, cursor):
            for _ in range(max_new_tokens):
                frame = cursor.frame = adapter.frame(q0, len(ids))
                tap = KVTap(past, record=True)
                h = _embed_at(adapter, ids[q0:], q0)
                for layer in range(adapter.n_layers):
                    h = adapter.block(layer, h, frame, tap)
                logits = adapter.unembed(h[0, -1]).to("cpu", torch.float32)
                if not torch.isfinite(logits).all():
                    raise NonFiniteError(f"generation produced NaN or inf, most likely because of {blame(hooks)}; "
                                         "lower its intensity or scale" if hooks else
                                         "the model itself produces NaN or inf here; its weights may be corrupt")
                token = pick_token(logits, float(temperature), top_k, gen)
                ids.append(token)
                new.append(token)
                past, q0 = tap.recorded, len(ids) - 1
                if token == eos:
                    break
    return new
