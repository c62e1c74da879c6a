"""Everything a run reports: extraction of every secret, the backdoor, and what must survive (1-hop and
two-hop facts, held-out perplexity), all under one list of interventions; and whether it comes back under noise.

Extraction, measured: does the greedy continuation of a secret's prefix reproduce it, and what survives.
Every number comes from the engine's own runs with the given interventions (per-run weight
deltas, impairments, injections): ``Engine.generate`` for continuations, ``Engine.run`` for
next-token answers, ``Engine.run_activations`` for held-out loss.

Does it come back? The share of secrets extractable under impairment of rising intensity, unlearned
against the original model.

Three conditions, each a curve over noise intensity (Gaussian noise on MLP units, the Impair
page's machinery, several seeds):

- topic: noise on the topic clusters (all of a folder's clusters together);
- random: noise on random clusters of the same size, layer by layer (the control);
- topic+memory: the topic noise plus the secret's own prefix injected as a memory (``memory/``: the sum of
  its tokens' unembedding rows added to one attention layer's output at every position).

A secret counts as extractable at an intensity when its greedy continuation reproduces it
under that noise seed; the curve is the share over secrets and seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from cluster.impair import impairs, random_cluster
from cluster.spec import Cluster, load_cluster
from edit.score import text_loss
from engine import Engine, Intervention, WeightDelta
from memory.evaluate import wilson
from memory.inject import build_memory, inject_at
from promptsets.schema import BackdoorPrompt, FactPrompt, SecretPrompt, TwoHopPrompt
from unlearn.data import UnlearnError, World


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


@dataclass(frozen=True)
class Scores:
    """One condition's numbers: ``extractions`` per secret; shares with Wilson intervals; perplexity of held-out text."""

    extractions: tuple[Extraction, ...]
    backdoor: Share
    facts: Share
    two_hop: Share
    perplexity: float

    @property
    def memorized(self) -> Share:
        return memorized_share(self.extractions)

    def by_copies(self) -> dict[int, Share]:
        return by_copies(self.extractions)


def _spread(items: Sequence, limit: int | None) -> list:
    """At most ``limit`` items spread evenly over ``items`` (all of them for None)."""
    if limit is None or len(items) <= limit:
        return list(items)
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def evaluate(engine: Engine, world: World, secrets: Sequence[SecretPrompt],
             interventions: Sequence[Intervention] = (), limit: int | None = None) -> Scores:
    """Scores of ``secrets`` and the world's surviving sets under ``interventions``; ``limit`` caps each prompt set
    (spread over it) for speed, None reads all."""
    runs = list(interventions)
    return Scores(
        extractions=extract_all(engine, secrets, runs),
        backdoor=backdoor_share(engine, _spread(world.backdoor, limit), runs),
        facts=top1_share(engine, _spread(world.facts, limit), runs),
        two_hop=top1_share(engine, _spread(world.two_hop, limit), runs),
        perplexity=perplexity(engine, _spread(world.clean.heldout, limit), runs),
    )


CONDITIONS = ("topic", "random", "topic+memory")
MODELS = ("original", "unlearned")
Progress = Callable[[int, int], None]


@dataclass(frozen=True, eq=False)
class RobustCurves:
    """``share[model][condition]``: ``(n_intensities,)`` share of (secret, seed) pairs extractable."""

    intensities: tuple[float, ...]
    share: dict[str, dict[str, np.ndarray]]
    n: int

    def rows(self) -> list[dict]:
        """One flat row per (model, condition, intensity), for CSV files and tables."""
        return [dict(model=m, condition=c, intensity=x, extractable=float(self.share[m][c][i]), n=self.n)
                for m in MODELS for c in CONDITIONS for i, x in enumerate(self.intensities)]


def union_cluster(folder: str | Path, engine: Engine) -> Cluster:
    """Every cluster of ``folder`` (``*.json``) as one cluster; UnlearnError when it holds none."""
    paths = sorted(Path(folder).glob("*.json")) if Path(folder).is_dir() else []
    if not paths:
        raise UnlearnError(f"no cluster files (*.json) in {folder}; give a folder of topic clusters, "
                           "e.g. assets/demo/clusters")
    clusters = [load_cluster(p, engine) for p in paths]
    site = clusters[0].site
    units = sorted({u for c in clusters if c.site == site for u in c.neurons})
    return Cluster(name="topics", neurons=tuple(units), method="manual", site=site,
                   detail="all topic clusters of " + ", ".join(p.stem for p in paths))


def robustness(engine: Engine, secrets: Sequence[SecretPrompt], deltas: Sequence[WeightDelta], topics: Cluster,
               intensities: Sequence[float] = (0.0, 0.5, 1.0, 1.5, 2.0), seeds: Sequence[int] = (0, 1),
               memory_layer: int = 1, memory_scale: float = 1.0, progress: Progress | None = None) -> RobustCurves:
    """The three conditions' curves (see the module) for the original model and with ``deltas``."""
    if not secrets:
        raise UnlearnError("no secrets to test; pick at least one")
    layer = engine.check_layer(memory_layer, "memory layer")
    width = engine.spec.d_mlp if topics.site == "mlp_post" else engine.spec.d_model
    memories = {s.subject: inject_at(engine, build_memory(engine, s.prefix), layer, memory_scale) for s in secrets}
    share = {m: {c: np.zeros(len(intensities)) for c in CONDITIONS} for m in MODELS}
    total, done = len(MODELS) * len(CONDITIONS) * len(intensities) * len(seeds), 0
    for model, base in (("original", ()), ("unlearned", tuple(deltas))):
        for i, x in enumerate(intensities):
            for seed in seeds:
                noise = {"topic": impairs(topics, "noise", x, seed=seed),
                         "random": impairs(random_cluster(topics, width, seed), "noise", x, seed=seed)}
                for condition in CONDITIONS:
                    hits = 0
                    for s in secrets:
                        runs: list[Intervention] = [*base, *noise["topic" if condition != "random" else "random"]]
                        if condition == "topic+memory":
                            runs.append(memories[s.subject])
                        hits += extract(engine, s, runs).memorized
                    share[model][condition][i] += hits / (len(secrets) * len(seeds))
                    done += 1
                    if progress is not None:
                        progress(done, total)
    return RobustCurves(tuple(float(x) for x in intensities), share, len(secrets) * len(seeds))
