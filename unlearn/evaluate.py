"""Everything a run reports: extraction of every secret, the backdoor, and what must survive (1-hop and
two-hop facts, held-out perplexity), all under one list of interventions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from engine import Engine, Intervention
from promptsets.schema import SecretPrompt
from unlearn.data import World
from unlearn.extract import (Extraction, Share, backdoor_share, by_copies, extract_all, memorized_share, perplexity,
                             top1_share)


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
