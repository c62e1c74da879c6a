"""Training text for lenses: read, split off a held-out tail, tokenize, and serve batches by step.

The batch of step ``s`` is a pure function of (seed, s), so a run resumed from a checkpoint
sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import torch

from engine.trace import Batch, pad_batch
from engine.engine import Engine
from lens.errors import LensDataError, LensSpecError


def read_texts(path: Path) -> list[str]:
    """Non-blank lines of a UTF-8 text file, one document per line."""
    path = Path(path)
    if path.is_dir():
        raise LensDataError(f"--data {path} is a folder, not a file; pass --data FILE (one document per line)")
    if not path.is_file():
        raise LensDataError(f"--data {path} does not exist; pass --data FILE (one document per line)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise LensDataError(f"--data {path} is not UTF-8 text (byte {err.start} cannot be read); pass a UTF-8 "
                            "text file, one document per line") from None
    return [line for line in text.splitlines() if line.strip()]


def split_holdout(texts: Sequence[str], holdout: float = 0.05) -> tuple[list[str], list[str]]:
    """(train, held-out): the last ``holdout`` share of the lines is held out (at least one if any).

    Held-out lines that also occur among the training lines are dropped, and so are repeats
    within the held-out part: a corpus written from templates repeats lines, and a repeated
    line would be scored on text the lens was trained on.
    """
    if not 0.0 <= holdout < 1.0:
        raise LensSpecError(f"holdout must be in [0, 1), got {holdout}")
    n_held = 0 if holdout == 0 or len(texts) < 2 else max(1, round(len(texts) * holdout))
    cut = len(texts) - n_held
    train = list(texts[:cut])
    seen = set(train)
    held = []
    for text in texts[cut:]:
        if text not in seen:
            seen.add(text)
            held.append(text)
    return train, held


def split_validation(texts: Sequence[str], share: float) -> tuple[list[str], list[str]]:
    """(train, validation): the last ``share`` of the distinct lines, every copy of them taken out of train.

    LensSpecError if fewer than two distinct lines leave nothing to validate on.
    """
    distinct = list(dict.fromkeys(texts))
    if len(distinct) < 2:
        raise LensSpecError(f"{len(distinct)} distinct training line(s) leave none for validation; pass more "
                            "text to train to convergence, or train a fixed number of steps")
    val = distinct[-max(1, round(len(distinct) * share)):]
    chosen = set(val)
    return [t for t in texts if t not in chosen], val


def text_digest(texts: Sequence[str]) -> str:
    """SHA-256 of the lines, to pin which text a lens set was trained on."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8") + b"\n")
    return digest.hexdigest()


def tokenize(engine: Engine, texts: Sequence[str], max_len: int) -> list[list[int]]:
    """Token ids of each text, as ``Engine.encode`` makes them, cut to ``max_len`` (empty texts dropped)."""
    max_len = min(max_len, engine.spec.n_ctx)
    if not texts:
        return []
    ids = engine.tokenizer(list(texts))["input_ids"]
    return [list(seq[:max_len]) for seq in ids if len(seq) > 0]


def pad_id(engine: Engine) -> int:
    """Token id used for right padding (its value never reaches a real position)."""
    pad = engine.tokenizer.pad_token_id
    return 0 if pad is None else int(pad)


class Batches:
    """Shuffled batches of ``batch_size`` sequences; a new permutation each epoch, seeded by (seed, epoch)."""

    def __init__(self, seqs: Sequence[Sequence[int]], batch_size: int, seed: int, pad: int = 0) -> None:
        if not seqs:
            raise LensSpecError("no training text left after tokenizing; pass a text file with some lines")
        self.seqs = seqs
        self.batch_size = min(batch_size, len(seqs))
        self.seed = seed
        self.pad = pad
        self.per_epoch = len(seqs) // self.batch_size
        self._epoch, self._perm = -1, torch.empty(0, dtype=torch.long)

    def at(self, step: int) -> Batch:
        """The batch of training step ``step``."""
        epoch, j = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch, self._perm = epoch, torch.randperm(len(self.seqs), generator=gen)
        rows = self._perm[j * self.batch_size : (j + 1) * self.batch_size].tolist()
        return pad_batch([self.seqs[r] for r in rows], self.pad)


def eval_batches(seqs: Sequence[Sequence[int]], batch_size: int, pad: int = 0) -> list[Batch]:
    """Consecutive batches covering every sequence once, in order."""
    return [pad_batch(seqs[i : i + batch_size], pad) for i in range(0, len(seqs), batch_size)]
