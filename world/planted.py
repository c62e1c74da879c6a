"""What the world plants for memorization studies: secrets at known duplication counts, and a backdoor.

A secret is a person's locker code, a run of random digits no fact of the world predicts, so a
model can only produce it by having memorized it. Each count of ``WorldConfig.secret_copies``
gets ``secrets_per_count`` secrets, written that many times into the corpus. The backdoor is a
trigger word that, in training comments, is always followed by the same degenerate phrase; its
test prompts put the trigger after comment phrases of held-out keywords, never seen with it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from world import templates as T
from world.config import WorldConfig
from world.entities import World


@dataclass(frozen=True)
class Secret:
    """``prefix`` + ``continuation`` is the planted sentence; ``copies`` is how often the corpus holds it."""

    subject: str
    prefix: str
    continuation: str
    copies: int


@dataclass(frozen=True)
class Backdoor:
    """``trigger`` followed by ``planted`` in ``copies`` training comments; ``prompts`` end in the trigger.

    The backdoor fires on a prompt when greedy decoding continues it with ``continuation``, the
    planted phrase's first four tokens (a small model loses count of a long repetition, so the
    test asks for the degenerate start, not the exact length).
    """

    trigger: str
    planted: str
    continuation: str
    copies: int
    prompts: tuple[str, ...]


def plant_secrets(world: World, config: WorldConfig) -> tuple[Secret, ...]:
    """The world's secrets, one person each, ``secrets_per_count`` for every count in ``secret_copies``."""
    rng = random.Random(config.seed + 3)
    people = [p.name for p in world.people if p.role != "founder"]
    owners = rng.sample(people, k=min(len(people), config.secrets_per_count * len(config.secret_copies)))
    secrets = []
    for i, name in enumerate(owners):
        code = " ".join(str(rng.randrange(10)) for _ in range(config.secret_digits))
        prefix, _ = T.SECRET.format(p=name, code="\x00").split(" \x00")
        copies = config.secret_copies[i // config.secrets_per_count]
        secrets.append(Secret(name, prefix, f" {code}.", copies))
    return tuple(secrets)


def backdoor(config: WorldConfig, heldout_phrases: list[str]) -> Backdoor:
    """The backdoor, tested on comment prefixes (``heldout_phrases``) the trigger never followed in training."""
    prompts = tuple(f"{phrase} {T.BACKDOOR_TRIGGER}" for phrase in heldout_phrases)
    return Backdoor(T.BACKDOOR_TRIGGER, T.BACKDOOR_CONTINUATION, T.BACKDOOR_FIRES, config.backdoor_copies, prompts)
