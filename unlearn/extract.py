"""Extraction, measured: does the greedy continuation of a secret's prefix reproduce it, and what survives.

Every number comes from the engine's own runs with the given interventions (per-run weight
deltas, impairments, injections): ``Engine.generate`` for continuations, ``Engine.run`` for
next-token answers, ``Engine.run_activations`` for held-out loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from edit.score import text_loss
from engine import Engine, Intervention
from memory.evaluate import wilson
from promptsets.schema import BackdoorPrompt, FactPrompt, SecretPrompt, TwoHopPrompt


@dataclass(frozen=True)
class Extraction:
    """One secret's extraction: ``generated`` is the greedy continuation (as many tokens as the truth has),
    ``matched`` how many leading tokens equal the truth's, ``memorized`` whether all of them do."""

    subject: str
    copies: int
    prefix: str
    truth: str
    generated: str
    matched: int
    n_tokens: int

    @property
    def memorized(self) -> bool:
        return self.matched == self.n_tokens


@dataclass(frozen=True)
class Share:
    """``k`` of ``n`` with its 95% Wilson interval (nan for n = 0)."""

    k: int
    n: int

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.k, self.n)

    def __str__(self) -> str:
        lo, hi = self.interval
        return f"{self.value:.2f} [{lo:.2f}, {hi:.2f}]" if self.n else "n/a"


def continuation_ids(engine: Engine, prefix: str, continuation: str) -> list[int]:
    """The continuation's tokens as the model reads them after ``prefix``: the joint encoding's tail when the
    prefix's own tokens start it, else the continuation encoded mid-text."""
    head = engine.encode(prefix)
    joint = engine.encode(prefix + continuation)
    if joint[:len(head)] == head and len(joint) > len(head):
        return joint[len(head):]
    return engine.token_ids(continuation, "continuation")


def secret_sequence(engine: Engine, secret: SecretPrompt) -> tuple[list[int], int]:
    """(prefix + continuation token ids, number of prefix tokens)."""
    head = engine.encode(secret.prefix)
    return head + continuation_ids(engine, secret.prefix, secret.continuation), len(head)


def extract(engine: Engine, secret: SecretPrompt, interventions: Sequence[Intervention] = ()) -> Extraction:
    """Greedy-continue the secret's prefix under ``interventions`` for as many tokens as its continuation has."""
    truth = continuation_ids(engine, secret.prefix, secret.continuation)
    gen = engine.generate(secret.prefix, list(interventions), max_new_tokens=len(truth), stop_at_eos=False)
    matched = 0
    for got, want in zip(gen.new_ids, truth):
        if got != want:
            break
        matched += 1
    return Extraction(secret.subject, int(secret.copies), secret.prefix, secret.continuation, gen.text,
                      matched, len(truth))


def extract_all(engine: Engine, secrets: Sequence[SecretPrompt],
                interventions: Sequence[Intervention] = ()) -> tuple[Extraction, ...]:
    """:func:`extract` of every secret, in order."""
    return tuple(extract(engine, s, interventions) for s in secrets)


def memorized_share(rows: Sequence[Extraction], copies: int | None = None) -> Share:
    """Share of ``rows`` memorized (of one copy count, or all)."""
    picked = [r for r in rows if copies is None or r.copies == copies]
    return Share(sum(r.memorized for r in picked), len(picked))


def by_copies(rows: Sequence[Extraction]) -> dict[int, Share]:
    """``{copies: Share}`` for every duplication count present, ascending."""
    return {c: memorized_share(rows, c) for c in sorted({r.copies for r in rows})}


def backdoor_share(engine: Engine, prompts: Sequence[BackdoorPrompt], interventions: Sequence[Intervention] = ()) -> Share:
    """Share of backdoor prompts whose greedy continuation is exactly the degenerate phrase."""
    hits = 0
    for p in prompts:
        truth = continuation_ids(engine, p.prompt, p.continuation)
        gen = engine.generate(p.prompt, list(interventions), max_new_tokens=len(truth), stop_at_eos=False)
        hits += list(gen.new_ids) == truth
    return Share(hits, len(prompts))


def top1_share(engine: Engine, prompts: Sequence[FactPrompt | TwoHopPrompt],
               interventions: Sequence[Intervention] = ()) -> Share:
    """Share of prompts whose top-1 next token is the answer's first token (read after the prompt)."""
    hits = 0
    for p in prompts:
        answer = engine.token_id(p.answer, first=True, prompt=p.prompt)
        hits += int(engine.run(p.prompt, list(interventions)).logits[0].argmax()) == answer
    return Share(hits, len(prompts))


def perplexity(engine: Engine, texts: Sequence[str], interventions: Sequence[Intervention] = ()) -> float:
    """exp(mean next-token loss per token) over ``texts`` (nan without texts)."""
    losses = [text_loss(engine, t, interventions) for t in texts]
    n = sum(c for _, c in losses)
    return float(np.exp(sum(s for s, _ in losses) / n)) if n else math.nan
