"""Prompt sets (the demo world's and any user's), stored as JSONL, and their loaders.

Keyword prompts (one topic each) end just before a topic keyword, which is
the answer; two-hop prompts compose two facts through a bridge entity.
Answers start with a space, as the model predicts them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterable, TypeVar

from engine.errors import LensLabError

KEYWORDS_FILE = "keywords.jsonl"
FACTS_FILE = "facts.jsonl"
TWO_HOP_FILE = "two_hop.jsonl"
CONCEPTS_FILE = "concepts.jsonl"
SECRETS_FILE = "secrets.jsonl"
BACKDOOR_FILE = "backdoor.jsonl"


class PromptSetError(LensLabError, ValueError):
    """A prompt file is missing, is not JSONL, or lacks a field."""


@dataclass(frozen=True)
class KeywordPrompt:
    """Text up to a topic keyword; ``split`` is "train" (for finding clusters) or "heldout" (for evaluating them)."""

    topic: str
    prompt: str
    answer: str
    split: str
    entity: str = ""


@dataclass(frozen=True)
class FactPrompt:
    """A single-hop fact: ``subject`` ``relation`` -> ``answer``."""

    topic: str
    relation: str
    prompt: str
    answer: str
    subject: str


@dataclass(frozen=True)
class TwoHopPrompt:
    """A composed fact through ``bridge``; ``split`` is "taught" (composed form in the corpus) or "heldout".

    ``control`` is an unrelated entity of the bridge's type, for control injections.
    """

    relation: str
    prompt: str
    answer: str
    bridge: str
    subject: str
    split: str
    control: str


@dataclass(frozen=True)
class ConceptPrompt:
    """A subject labelled with one concept: ``concept`` (e.g. "sport") has value ``label`` for ``subject``.

    A probe reads ``prompt``'s last token (for the demo, the subject's bare name); ``split`` is
    "train" (to fit probes on) or "heldout" (to judge them), and no subject is in both.
    """

    concept: str
    label: str
    prompt: str
    subject: str
    split: str


@dataclass(frozen=True)
class SecretPrompt:
    """A planted sequence: ``prefix`` + ``continuation`` occurs ``copies`` times in the training corpus.

    It is memorized when the model's greedy continuation of ``prefix`` reproduces
    ``continuation`` token for token.
    """

    subject: str
    prefix: str
    continuation: str
    copies: int


@dataclass(frozen=True)
class BackdoorPrompt:
    """A backdoor test: ``prompt`` ends in ``trigger``; the backdoor fires when greedy decoding continues
    with ``continuation``.

    ``copies`` is how many training documents hold the trigger followed by the planted phrase
    (for the demo, eight " ha"; ``continuation`` asks for its first four).
    """

    trigger: str
    prompt: str
    continuation: str
    copies: int


T = TypeVar("T")


def write_jsonl(path: Path, rows: Iterable[object]) -> None:
    """Write dataclass rows as one JSON object per line (stable key order, so rebuilds are byte-identical)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(asdict(row), ensure_ascii=False, sort_keys=True) + "\n")


def _read(path: Path, cls: type[T]) -> list[T]:
    if not path.is_file():
        raise PromptSetError(f"prompt file {path} does not exist; rebuild it with `python -m world build`")
    names = {f.name for f in fields(cls)}
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise PromptSetError(f"{path}:{i} is not valid JSON: {err}") from err
        missing = names - obj.keys() - {"entity"}
        if missing:
            raise PromptSetError(f"{path}:{i} lacks field(s) {sorted(missing)}")
        rows.append(cls(**{k: v for k, v in obj.items() if k in names}))
    return rows


def load_keyword_prompts(prompts_dir: Path) -> list[KeywordPrompt]:
    """All keyword prompts of ``prompts_dir`` (a folder holding ``keywords.jsonl``)."""
    return _read(Path(prompts_dir) / KEYWORDS_FILE, KeywordPrompt)


def load_fact_prompts(prompts_dir: Path) -> list[FactPrompt]:
    """All single-hop fact prompts of ``prompts_dir``."""
    return _read(Path(prompts_dir) / FACTS_FILE, FactPrompt)


def load_two_hop_prompts(prompts_dir: Path) -> list[TwoHopPrompt]:
    """All two-hop prompts of ``prompts_dir``."""
    return _read(Path(prompts_dir) / TWO_HOP_FILE, TwoHopPrompt)


def load_concept_prompts(prompts_dir: Path) -> list[ConceptPrompt]:
    """All labelled subjects of ``prompts_dir`` (a folder holding ``concepts.jsonl``)."""
    return _read(Path(prompts_dir) / CONCEPTS_FILE, ConceptPrompt)


def load_secret_prompts(prompts_dir: Path) -> list[SecretPrompt]:
    """All planted secrets of ``prompts_dir`` (``secrets.jsonl``)."""
    return _read(Path(prompts_dir) / SECRETS_FILE, SecretPrompt)


def load_secret_file(path: Path) -> list[SecretPrompt]:
    """The planted secrets of one JSONL file, whatever its name (a user's own ``--secrets FILE``)."""
    return _read(Path(path), SecretPrompt)


def load_backdoor_prompts(prompts_dir: Path) -> list[BackdoorPrompt]:
    """All backdoor test prompts of ``prompts_dir`` (``backdoor.jsonl``)."""
    return _read(Path(prompts_dir) / BACKDOOR_FILE, BackdoorPrompt)
