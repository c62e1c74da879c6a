"""Held-out hygiene: what a held-out prompt may not share with a training prompt.

A held-out prompt tests knowledge only if the training prompts do not already give it
away: no identical text, no shared subject entity, and no shared (phrase, answer) pair,
where the phrase is the prompt's last words once its entity is taken out (so
"honestly, you are a useless" and "wow, you are a useless" share one phrase, while
"Zolir plays" and "Bram plays" do not: their answers depend on who is named).
"""

from __future__ import annotations

from typing import Protocol, Sequence

PHRASE_WORDS = 4


class PromptLike(Protocol):
    prompt: str
    answer: str


def _entity(p: PromptLike) -> str:
    return getattr(p, "entity", "") or getattr(p, "subject", "")


def phrase(p: PromptLike, n_words: int = PHRASE_WORDS) -> tuple[str, str]:
    """(entity, last ``n_words`` words of the prompt without the entity): what the answer may follow from."""
    entity = _entity(p)
    words = [w for w in p.prompt.split() if w.strip(".,:;!?") != entity] if entity else p.prompt.split()
    return entity, " ".join(words[-n_words:])


def split_leaks(train: Sequence[PromptLike], heldout: Sequence[PromptLike]) -> list[str]:
    """Every way ``heldout`` overlaps ``train``, one line each; empty when the split is clean."""
    leaks: list[str] = []
    texts = {p.prompt for p in train}
    entities = {_entity(p) for p in train} - {""}
    pairs = {(phrase(p), p.answer) for p in train}
    for p in heldout:
        if p.prompt in texts:
            leaks.append(f"held-out prompt {p.prompt!r} is also a training prompt")
        elif _entity(p) in entities:
            leaks.append(f"held-out prompt {p.prompt!r} is about {_entity(p)!r}, a training entity")
        elif (phrase(p), p.answer) in pairs:
            leaks.append(f"held-out prompt {p.prompt!r} -> {p.answer!r} repeats a training phrase and answer")
    return leaks
