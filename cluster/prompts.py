"""Keyword prompt sets as the cluster tools use them: split, topics, hash, answer tokens."""

from __future__ import annotations

import hashlib
from typing import Sequence

from cluster.errors import ClusterError
from engine.engine import Engine
from promptsets.schema import KeywordPrompt


def select_split(prompts: Sequence[KeywordPrompt], split: str | None) -> list[KeywordPrompt]:
    """The prompts of ``split`` ("train" / "heldout"), or all of them when ``split`` is None."""
    chosen = [p for p in prompts if split is None or p.split == split]
    if not chosen:
        found = sorted({p.split for p in prompts})
        raise ClusterError(f"no keyword prompts in split {split!r}; the prompt set has splits {found}")
    return chosen


def topics_of(prompts: Sequence[KeywordPrompt]) -> tuple[str, ...]:
    """The topics, in the order they first appear."""
    return tuple(dict.fromkeys(p.topic for p in prompts))


def prompt_hash(prompts: Sequence[KeywordPrompt]) -> str:
    """A short, order-sensitive hash of the prompts' topic, text and answer (to pin what a cluster came from)."""
    h = hashlib.sha256()
    for p in prompts:
        h.update(f"{p.topic}\x1f{p.prompt}\x1f{p.answer}\x1e".encode("utf-8"))
    return h.hexdigest()[:16]


def answer_token(engine: Engine, answer: str) -> int:
    """The answer's first token as the model would predict it (answers start with a space)."""
    if not answer:
        raise ClusterError(f"answer {answer!r} has no tokens; every keyword prompt needs a non-empty answer")
    return engine.token_id(answer, "keyword answer", first=True)


def carve_validation(prompts: Sequence[KeywordPrompt], every: int = 3) -> tuple[list[KeywordPrompt], list[KeywordPrompt]]:
    """(fit, validation) from training prompts: every ``every``-th group of each topic goes to validation.

    A group is one entity's prompts, or, for prompts without an entity, one answer's (one comment
    phrase), so validation shares no entity and no phrase-with-answer with fit, as held-out does
    with train. Choices such as a cluster's size are made on validation, never on held-out.
    """
    if every < 2:
        raise ClusterError(f"every must be at least 2 (1 would leave nothing to fit on), got {every}")
    seen: dict[str, dict[str, int]] = {}
    fit, val = [], []
    for p in prompts:
        groups = seen.setdefault(p.topic, {})
        index = groups.setdefault(p.entity or p.answer, len(groups))
        (val if index % every == every - 1 else fit).append(p)
    return fit, val
