"""Build a memory, inject it into one attention layer and measure the answer's probability before and
after; the exception types for memory injection mistakes a user can make.

A memory is a ``(d_model,)`` vector made from the tokens of a text. The paper's recipe sums the
unembedding rows ``W_U[:, t]`` of the *unique* tokens of the memory text (no BOS), unnormalised; the
embedding rows ``W_E[t]`` are the variant. The scale is applied at injection time.

The errors subclass the root of LensLab's errors, so a page that catches ``LensLabError`` shows them
too, and every message says how to fix the input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from engine.engine import Engine
from engine.errors import EmptyPromptError, LensLabError
from engine.interventions import Inject, Positions
from engine.readout import gain_ratio
from engine.readout import RunResult


class MemorySpecError(LensLabError, ValueError):
    """A memory or sweep is ill-specified (empty memory text, unknown source, bad scale list, ...)."""


class SweepResumeError(LensLabError, RuntimeError):
    """An output folder holds a sweep made with other settings, so it cannot be resumed."""


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


@dataclass(frozen=True)
class InjectionSpec:
    """Where and how strongly to inject the memory made from ``memory`` (the paper: all positions, unnormalised W_U rows)."""

    memory: str
    layer: int
    scale: float = 1.0
    source: MemorySource = "unembedding"
    normalise: bool = False
    positions: Positions = "all"


@dataclass(frozen=True)
class InjectionResult:
    """Probability of the answer's first token at the last position, without and with the memory.

    ``top_before`` / ``top_after`` hold the k most likely next tokens as (token, probability);
    ``top_both`` holds every token of either list as (token, p_before, p_after), so the two
    sides can be compared token by token.
    """

    prompt: str
    answer: str
    answer_token: str
    spec: InjectionSpec
    memory_tokens: tuple[str, ...]
    p_before: float
    p_after: float
    top_before: tuple[tuple[str, float], ...]
    top_after: tuple[tuple[str, float], ...]
    top_both: tuple[tuple[str, float, float], ...] = ()

    @property
    def gain(self) -> float:
        """``p_after / p_before``: above 1 the memory helped."""
        return gain_ratio(self.p_before, self.p_after)


def check_scale(scale: float) -> None:
    """Raise MemorySpecError unless ``scale`` is a finite number."""
    if not math.isfinite(float(scale)):
        raise MemorySpecError(f"scale {scale} is not a finite number; use e.g. 1 to 15")


def answer_token_id(engine: Engine, answer: str, prompt: str) -> int:
    """The id of the answer's first token as the model predicts it after ``prompt`` (answers carry their leading
    space, e.g. " Marlow"). The paper's metric reads the first token of a possibly longer answer.
    """
    try:
        return engine.token_id(answer, "answer", first=True, prompt=prompt)
    except EmptyPromptError as err:
        raise MemorySpecError(f"answer {answer!r} has no tokens; give the expected next word, e.g. ' Marlow'") from err


def log_probs(logits: torch.Tensor) -> torch.Tensor:
    """``(d_vocab,)`` logits -> ``(d_vocab,)`` log-probabilities in float64, so tiny probabilities survive."""
    return torch.log_softmax(logits.detach().double().reshape(-1), dim=-1)


def inject_run(engine: Engine, prompt: str, vector: np.ndarray, layer: int, scale: float,
               positions: Positions = "all") -> RunResult:
    """Run ``prompt`` with ``scale * vector`` (``(d_model,)``) added to layer ``layer``'s attention output.

    The result carries the clean logits too; its ``readout`` gives the answer's probability before and after.
    """
    return engine.run(prompt, [inject_at(engine, vector, layer, scale, positions)])


def inject_at(engine: Engine, vector, layer: int, scale: float, positions: Positions = "all") -> Inject:
    """The checked :class:`Inject` of ``scale * vector`` (``(d_model,)``) at layer ``layer``'s attention output."""
    layer = engine.check_layer(layer)
    check_scale(scale)
    return Inject(layer=layer, vector=tuple(float(v) for v in vector), scale=float(scale), positions=positions)


def _top(engine: Engine, logp: torch.Tensor, k: int) -> tuple[tuple[str, float], ...]:
    vals, idx = torch.topk(logp, k)
    strs = engine.token_strs(idx.tolist())
    return tuple((s, float(math.exp(v))) for s, v in zip(strs, vals.tolist()))


def _top_both(engine: Engine, lp_before: torch.Tensor, lp_after: torch.Tensor, k: int) -> tuple[tuple[str, float, float], ...]:
    """(token, p_before, p_after) for the union of both top-k lists, most likely (either side) first."""
    ids = sorted(set(torch.topk(lp_before, k).indices.tolist()) | set(torch.topk(lp_after, k).indices.tolist()),
                 key=lambda i: -max(float(lp_before[i]), float(lp_after[i])))
    return tuple((s, float(lp_before[i].exp()), float(lp_after[i].exp()))
                 for s, i in zip(engine.token_strs(ids), ids))


def inject_memory(engine: Engine, prompt: str, answer: str | None, spec: InjectionSpec, top_k: int = 5) -> InjectionResult:
    """Inject ``spec``'s memory while the model reads ``prompt``; report the answer's probability before and after.

    With ``answer=None`` the tracked token is the model's clean top-1 prediction.
    """
    vector = build_memory(engine, spec.memory, spec.source, spec.normalise)
    run = inject_run(engine, prompt, vector, spec.layer, spec.scale, spec.positions)
    if answer is None:
        a = int(run.clean_logits.argmax())
        answer = engine.token_strs([a])[0]
    else:
        a = answer_token_id(engine, answer, prompt)
    readout = run.readout(top_k, a)
    lp_before, lp_after = log_probs(run.clean_logits), log_probs(run.logits[0])
    k = min(top_k, lp_before.shape[0])
    return InjectionResult(
        prompt=prompt,
        answer=answer,
        answer_token=engine.token_strs([a])[0],
        spec=spec,
        memory_tokens=tuple(engine.token_strs(memory_token_ids(engine, spec.memory))),
        p_before=readout.target_clean,
        p_after=readout.target_mean,
        top_before=_top(engine, lp_before, k),
        top_after=_top(engine, lp_after, k),
        top_both=_top_both(engine, lp_before, lp_after, k),
    )
