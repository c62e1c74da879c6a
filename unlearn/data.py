"""What unlearning works on: the planted secrets (and their validation/report halves), the facts that must
survive, and clean text, read from a prompts folder or a user's own files; and the package's one error type
for a user's mistake (:class:`UnlearnError`).

Clean text plays two parts: ``retain`` documents whose loss the localizers and trainers keep low, and
``heldout`` documents whose perplexity reports the damage. For a demo-built world (a folder with
``world.json``) the held-out documents are ``edit.score.heldout_texts``: new documents stating the world's
training facts, never lines of the corpus; retain documents are corpus lines stating facts (not secrets
or the backdoor). For any other model, a text file names both (alternate lines).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from engine.errors import LensLabError
from promptsets.schema import (BackdoorPrompt, FactPrompt, PromptSetError, SecretPrompt, TwoHopPrompt, load_backdoor_prompts,
                               load_fact_prompts, load_secret_file, load_two_hop_prompts)


class UnlearnError(LensLabError, ValueError):
    """Secrets, a method, a budget or a clean-text file cannot be used (the message says how to fix it)."""


# Relations of corpus_facts.tsv that are not facts to keep.
PLANTED = ("secret", "backdoor")
SPLITS = ("all", "validation", "report")


@dataclass(frozen=True)
class CleanText:
    """``retain``: documents to keep the loss of; ``heldout``: documents to measure perplexity on; ``source`` says which."""

    retain: tuple[str, ...]
    heldout: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class World:
    """Everything an unlearning run reads: secrets to forget, sets that must survive, clean text."""

    secrets: tuple[SecretPrompt, ...]
    facts: tuple[FactPrompt, ...]
    two_hop: tuple[TwoHopPrompt, ...]
    backdoor: tuple[BackdoorPrompt, ...]
    clean: CleanText


def read_secrets(path: str | Path) -> tuple[SecretPrompt, ...]:
    """The SecretPrompt rows of a JSONL file; UnlearnError for a missing, malformed or empty file."""
    path = Path(path)
    if path.is_dir():
        path = path / "secrets.jsonl"
    if not path.is_file():
        raise UnlearnError(f"secrets file {path} does not exist; give a JSONL file of "
                           "{subject, prefix, continuation, copies} rows with --secrets")
    try:
        rows = tuple(load_secret_file(path))
    except PromptSetError as err:
        raise UnlearnError(str(err)) from None
    if not rows:
        raise UnlearnError(f"secrets file {path} has no rows; add at least one secret")
    for row in rows:
        if not row.prefix.strip() or not row.continuation.strip() or int(row.copies) < 0:
            raise UnlearnError(f"secret {row.subject!r} in {path} needs a prefix, a continuation and copies >= 0")
    return rows


def pick_secrets(secrets: Sequence[SecretPrompt], subjects: Sequence[str] = (), split: str = "all") -> tuple[SecretPrompt, ...]:
    """The secrets of ``split`` (see :func:`split_secrets`), narrowed to ``subjects`` when given.

    UnlearnError naming the known subjects for an unknown one, or for a split it is not in."""
    if split not in SPLITS:
        raise UnlearnError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    chosen = split_secrets(secrets)[split] if split != "all" else tuple(secrets)
    if not subjects:
        return chosen
    by_subject = {s.subject: s for s in chosen}
    unknown = [s for s in subjects if s not in by_subject]
    if unknown:
        known = ", ".join(sorted(by_subject)[:8]) + ("…" if len(by_subject) > 8 else "")
        raise UnlearnError(f"unknown secret subject {unknown[0]!r} (split {split}); known: {known}")
    return tuple(by_subject[s] for s in subjects)


def split_secrets(secrets: Sequence[SecretPrompt]) -> dict[str, tuple[SecretPrompt, ...]]:
    """``{"validation": ..., "report": ...}``: within each copy count, alternate secrets (file order) go to each half,
    so both halves hold every duplication count (budgets are chosen on one, reported on the other)."""
    halves: dict[str, list[SecretPrompt]] = {"validation": [], "report": []}
    seen: dict[int, int] = {}
    for secret in secrets:
        i = seen.get(secret.copies, 0)
        seen[secret.copies] = i + 1
        halves["validation" if i % 2 == 0 else "report"].append(secret)
    return {k: tuple(v) for k, v in halves.items()}


def _optional(loader, folder: Path) -> tuple:
    try:
        return tuple(loader(folder))
    except PromptSetError:
        return ()


def clean_text(model_dir: Path | None, clean_file: str | Path | None = None, n: int = 48) -> CleanText:
    """Retain and held-out documents: a user's file (alternate lines), else the demo world's (see the module)."""
    if clean_file is not None:
        path = Path(clean_file)
        if not path.is_file():
            raise UnlearnError(f"clean-text file {path} does not exist; give a text file, one document a line")
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        if len(lines) < 2:
            raise UnlearnError(f"clean-text file {path} needs at least two non-empty lines")
        return CleanText(tuple(lines[0::2][:n]), tuple(lines[1::2][:n]), f"{path} (alternate lines)")
    folder = Path(model_dir) if model_dir is not None else None
    if folder is None or not (folder / "corpus.txt").is_file():
        raise UnlearnError("no clean text: give --clean FILE (one document a line) for a model without a demo corpus")
    retain = _fact_lines(folder, n)
    if (folder / "world.json").is_file():
        from edit.score import heldout_texts
        return CleanText(retain, heldout_texts(n, demo_dir=folder), "held-out documents of the world's facts "
                         "(edit.score.heldout_texts); retain: corpus lines stating facts")
    lines = _fact_lines(folder, 2 * n)
    return CleanText(lines[0::2], lines[1::2], "corpus lines stating facts (alternate lines retain / held out)")


def _fact_lines(folder: Path, n: int) -> tuple[str, ...]:
    """Up to ``n`` corpus lines spread over the corpus that state facts and no planted sequence."""
    corpus = (folder / "corpus.txt").read_text(encoding="utf-8").splitlines()
    planted: set[int] = set()
    facts_file = folder / "corpus_facts.tsv"
    if facts_file.is_file():
        with open(facts_file, encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                if row.get("relation") in PLANTED:
                    planted.add(int(row["line"]))
    usable = [line for i, line in enumerate(corpus) if i not in planted and line.strip()]
    step = max(1, len(usable) // max(n, 1))
    return tuple(usable[::step][:n])


def load_world(model_dir: str | Path, secrets_file: str | Path | None = None, clean_file: str | Path | None = None,
               n_clean: int = 48) -> World:
    """The secrets (``secrets_file``, else the folder's prompts/secrets.jsonl) and the sets that must survive."""
    folder = Path(model_dir)
    prompts = folder / "prompts"
    secrets = read_secrets(secrets_file if secrets_file is not None else prompts / "secrets.jsonl")
    clean = clean_text(folder if folder.is_dir() else None, clean_file, n_clean)
    return World(secrets, _optional(load_fact_prompts, prompts), _optional(load_two_hop_prompts, prompts),
                 _optional(load_backdoor_prompts, prompts), clean)
