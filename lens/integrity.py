"""Lens folders are written whole or not at all, and read back only as written.

A folder is written into a temporary sibling (weights first, the header last,
with a SHA-256 of every tensor) and renamed into place, so a crash never leaves
new weights under an old header. The loader checks every tensor against its
hash and refuses NaN or inf weights.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path
from typing import Mapping

import torch
from torch import Tensor

from lens.errors import LensExistsError, LensFormatError

_LENS_FILE = re.compile(r"^(lens\.json|layer_\d+\.safetensors|checkpoint\.safetensors)(\.tmp)?$")
LIST_AT_MOST = 4


def tensor_digest(t: Tensor) -> str:
    """SHA-256 of a tensor's dtype, shape and bytes."""
    t = t.detach().contiguous().cpu()
    h = hashlib.sha256(f"{t.dtype}|{tuple(t.shape)}|".encode())
    h.update(t.reshape(-1).view(torch.uint8).numpy())
    return h.hexdigest()


def check_finite(tensors: Mapping[str, Tensor], where: str, fix: str) -> None:
    """:class:`LensFormatError` if any tensor holds NaN or inf."""
    bad = [name for name, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise LensFormatError(f"{where} holds NaN or inf weights ({', '.join(sorted(bad)[:LIST_AT_MOST])}); {fix}")


def check_hashes(tensors: Mapping[str, Tensor], expected: Mapping[str, str], where: str) -> None:
    """:class:`LensFormatError` unless ``tensors`` are exactly the tensors whose hashes the header lists."""
    found = {name: tensor_digest(t) for name, t in tensors.items()}
    if found != dict(expected):
        raise LensFormatError(f"{where} does not match the content hashes in its lens.json (it was changed or "
                              "only partly written after the header); retrain or re-import the lenses")


def check_target(folder: Path, overwrite: bool) -> None:
    """Refuse to write lenses over a folder that holds lenses (without ``overwrite``) or anything else."""
    folder = Path(folder)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise LensExistsError(f"{folder} is a file, not a folder; choose another --out folder")
    names = sorted(p.name for p in folder.iterdir())
    other = [n for n in names if not _LENS_FILE.match(n)]
    if other:
        more = len(other) - LIST_AT_MOST
        shown = ", ".join(other[:LIST_AT_MOST]) + (f" and {more} more" if more > 0 else "")
        raise LensExistsError(f"{folder} holds files that are not lenses ({shown}); choose a new or empty --out folder")
    if not overwrite and any(n.startswith(("lens.json", "layer_")) for n in names):
        raise LensExistsError(f"{folder} already holds lenses; pass --overwrite to replace them whole, "
                              "or choose another --out folder")


def staging_folder(folder: Path) -> Path:
    """An empty temporary sibling of ``folder`` (same file system, so it can be renamed into place)."""
    folder = Path(folder)
    tmp = folder.parent / f".{folder.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def move_into_place(tmp: Path, folder: Path) -> None:
    """Replace ``folder`` (if any) whole by the complete folder ``tmp``."""
    folder = Path(folder)
    old = folder.parent / f".{folder.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    Path(tmp).rename(folder)
    shutil.rmtree(old, ignore_errors=True)

