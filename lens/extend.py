"""Train lenses a few layers at a time: the layers wanted first, then more, added to the same lens folder.

Each head's lens is trained on its own KL from the same seeded batches, so lenses trained for
layers [0] and then [1] are the lenses trained for [0, 1] together; a set grown this way is
exactly the set trained whole. Only fixed-step training (no early stop) is grown, with the
settings the folder's lenses were trained with, so the header's one recipe holds for every layer.

While layers are being added, their checkpoint lives in a hidden sibling of the lens folder
(``.<name>.layers-2-3``), so a stopped run continues from it when started again with the same
settings; the folder itself is replaced whole once they are trained.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

from safetensors import SafetensorError, safe_open

from engine.engine import Engine
from lens.data import text_digest
from lens.errors import LensSpecError
from lens.header import HEADER_FILE, LensHeader, read_header
from lens.lenses import Unembed
from lens.storage import CHECKPOINT_FILE, LensSet, open_lenses, save_lenses
from lens.train import DEFAULT_LR, train_lenses
from sweeps import OutputLock


def staging_for(out_dir: Path, layers: Sequence[int]) -> Path:
    """The hidden folder where lenses for ``layers`` train before they join ``out_dir``."""
    out_dir = Path(out_dir)
    return out_dir.parent / f".{out_dir.name}.layers-{'-'.join(str(l) for l in sorted(set(layers)))}"


def existing_header(out_dir: Path) -> LensHeader | None:
    """The header of the lenses already in ``out_dir``, None if it holds none."""
    return read_header(out_dir) if (Path(out_dir) / HEADER_FILE).is_file() else None


def training_folder(out_dir: Path, layers: Sequence[int]) -> Path:
    """Where training ``layers`` for ``out_dir`` checkpoints: the folder itself, or a staging sibling when
    ``out_dir`` already holds lenses of other layers."""
    return staging_for(out_dir, layers) if (Path(out_dir) / HEADER_FILE).is_file() else Path(out_dir)


def check_same_recipe(have: LensHeader, kind: str, rank: int | None, steps: int, lr: float, seed: int,
                      digest: str, holdout: float) -> None:
    """LensSpecError unless new layers would be trained as the folder's lenses were (so one header holds)."""
    data = have.data
    mine = {"kind": kind, "rank": rank, "steps": steps, "learning rate": lr, "seed": seed, "text": digest,
            "held-out share": holdout}
    theirs = {"kind": have.kind, "rank": have.rank, "steps": have.steps, "learning rate": have.lr, "seed": have.seed,
              "text": data.sha256 if data else None, "held-out share": data.holdout if data else None}
    differ = [name for name in mine if mine[name] != theirs[name]]
    if differ:
        raise LensSpecError(
            f"the lenses in this folder were trained with another {', '.join(differ)} ({have.kind}, {have.steps} "
            f"steps, learning rate {have.lr:g}, on {data.name if data else 'unknown text'}); train the new layers "
            "with the same settings, or into another folder")


def add_layers(engine: Engine, texts: Sequence[str], out_dir: Path, layers: Sequence[int], kind: str = "compact",
               steps: int = 400, *, seed: int = 0, lr: float | None = None, rank: int | None = None,
               holdout: float = 0.05, data_name: str = "texts", **train_kwargs) -> LensSet:
    """Train lenses for ``layers`` (fixed ``steps``) and add them to the lenses in ``out_dir``, or start them there.

    ``train_kwargs`` go to :func:`lens.train.train_lenses` (checkpoint_every, progress, batch_size, ...).
    Layers ``out_dir`` already holds are not trained again (LensSpecError if nothing is left).
    """
    have = existing_header(out_dir)
    kwargs = dict(kind=kind, steps=steps, seed=seed, lr=lr, rank=rank, holdout=holdout, data_name=data_name,
                  **train_kwargs)
    if have is None:
        return train_lenses(engine, texts, out_dir, layers=layers, **kwargs)
    new = sorted(set(layers) - set(have.layers))
    if not new:
        raise LensSpecError(f"layers {sorted(set(layers))} already have lenses in {out_dir}; pick other layers")
    have.check_model(engine.spec)
    check_same_recipe(have, kind, rank, steps, DEFAULT_LR[kind] if lr is None else lr, seed, text_digest(texts),
                      holdout)
    staging = staging_for(out_dir, new)
    fresh = train_lenses(engine, texts, staging, layers=new, overwrite=True, **kwargs)
    with OutputLock.beside(out_dir):
        old = open_lenses(out_dir, engine.spec, fresh.unembed)
        merged = sorted(set(have.layers) | set(new))
        states = {l: (fresh if l in new else old).layer(l).state_dict() for l in merged}
        kl = {**dict(zip(have.layers, have.final_kl)), **dict(zip(fresh.layers, fresh.header.final_kl))}
        header = replace(have, layers=tuple(merged), hashes=(),
                         final_kl=tuple(kl.get(l, ()) for l in merged) if have.final_kl else ())
        save_lenses(out_dir, header, states, overwrite=True)
    shutil.rmtree(staging, ignore_errors=True)
    return open_lenses(out_dir, engine.spec, Unembed.from_adapter(engine.adapter))


@dataclass(frozen=True)
class Stopped:
    """A stopped training's checkpoint: the ``step`` it reached of ``steps``, for ``layers`` of lens ``kind``."""

    step: int
    steps: int
    layers: tuple[int, ...]
    kind: str


def stopped_at(folder: Path) -> Stopped | None:
    """The stopped training whose checkpoint is in ``folder``, None if there is none (or it is unreadable)."""
    path = Path(folder) / CHECKPOINT_FILE
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
        run = json.loads(meta["run"])
        return Stopped(int(meta["step"]), int(run["steps"]), tuple(run["layers"]), str(run["kind"]))
    except (SafetensorError, OSError, KeyError, TypeError, ValueError):
        return None
