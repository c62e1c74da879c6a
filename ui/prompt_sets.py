"""The demo's prompt sets as (label, prompt, answer) choices for the sidebar (no Streamlit here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from world.paths import DEMO_PROMPTS
from world.prompts import (
    FACTS_FILE, KEYWORDS_FILE, TWO_HOP_FILE, PromptSetError,
    load_fact_prompts, load_keyword_prompts, load_two_hop_prompts,
)

STARTERS = "starter prompts"
SET_FILES = {"keywords": KEYWORDS_FILE, "facts": FACTS_FILE, "two-hop": TWO_HOP_FILE}


@dataclass(frozen=True)
class PromptChoice:
    """One prompt of a set: ``label`` is what the picker shows, ``answer`` the expected next token(s),
    ``memory`` the entity a memory injection should supply (the bridge of a two-hop prompt)."""

    label: str
    prompt: str
    answer: str
    memory: str = ""


def available_sets(prompts_dir: Path = DEMO_PROMPTS) -> tuple[str, ...]:
    """Names of the prompt sets whose file exists."""
    return tuple(name for name, file in SET_FILES.items() if (Path(prompts_dir) / file).is_file())


def load_set(name: str, prompts_dir: Path = DEMO_PROMPTS) -> tuple[PromptChoice, ...]:
    """All prompts of set ``name`` (or the starter selection); PromptSetError if its file is missing or bad."""
    if name == STARTERS:
        return starter_prompts(prompts_dir)
    if name == "keywords":
        rows = load_keyword_prompts(prompts_dir)
        return tuple(PromptChoice(f"[{r.topic}] {r.prompt} →{r.answer}", r.prompt, r.answer) for r in rows)
    if name == "facts":
        rows = load_fact_prompts(prompts_dir)
        return tuple(PromptChoice(f"[{r.relation}] {r.prompt} →{r.answer}", r.prompt, r.answer) for r in rows)
    if name == "two-hop":
        rows = load_two_hop_prompts(prompts_dir)
        return tuple(PromptChoice(f"[{r.relation}, {r.split}] {r.prompt} →{r.answer}", r.prompt, r.answer, r.bridge) for r in rows)
    raise PromptSetError(f"unknown prompt set {name!r}; choose one of {', '.join(SET_FILES)}")


def starter_prompts(prompts_dir: Path = DEMO_PROMPTS, per_group: int = 2) -> tuple[PromptChoice, ...]:
    """A short, varied list for workshops: a few held-out keyword prompts per topic, facts and two-hop prompts."""
    out: list[PromptChoice] = []
    sets = available_sets(prompts_dir)
    if "keywords" in sets:
        seen: dict[str, int] = {}
        for choice, row in zip(load_set("keywords", prompts_dir), load_keyword_prompts(prompts_dir)):
            if row.split == "heldout" and seen.get(row.topic, 0) < per_group:
                seen[row.topic] = seen.get(row.topic, 0) + 1
                out.append(choice)
    for name in ("facts", "two-hop"):
        if name in sets:
            out.extend(load_set(name, prompts_dir)[:per_group])
    return tuple(out)


def default_choice(prompts_dir: Path = DEMO_PROMPTS) -> PromptChoice | None:
    """The prompt a first visit opens on: the first held-out keyword prompt (a topic keyword to predict)."""
    if "keywords" not in available_sets(prompts_dir):
        return None
    for choice, row in zip(load_set("keywords", prompts_dir), load_keyword_prompts(prompts_dir)):
        if row.split == "heldout":
            return choice
    return None


def topic_of(prompt: str, prompts_dir: Path = DEMO_PROMPTS) -> str | None:
    """The topic of ``prompt`` when it is one of the demo's keyword prompts, else None."""
    if "keywords" not in available_sets(prompts_dir):
        return None
    return next((r.topic for r in load_keyword_prompts(prompts_dir) if r.prompt == prompt.strip()), None)
