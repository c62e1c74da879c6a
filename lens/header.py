"""A lens folder's header and its integrity: what the lenses are, whose they are, and proof they are whole.

The JSON header (``lens.json``) says what the lenses are, which model they belong to and how
they were made, with a SHA-256 of every tensor. Lens folders are written whole or not at all,
and read back only as written: a folder is written into a temporary sibling (weights first,
the header last) and renamed into place, so a crash never leaves new weights under an old
header; the loader checks every tensor against its hash and refuses NaN or inf weights.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Mapping

import torch
from torch import Tensor

from engine.spec import ModelSpec
from lens.errors import LensExistsError, LensFormatError, LensMismatch

FORMAT = "lenslab-attention-lens"
VERSION = 2  # 2: every tensor's SHA-256 is recorded (``hashes``)
HEADER_FILE = "lens.json"
CONVENTION_RAW = "raw transformers weights"
CONVENTION_TL = "TransformerLens (LayerNorm folded, weights centred, b_V folded into b_O)"
INPUT = "head write z_h @ W_O[h], before the attention output bias"
OBJECTIVE = "per head, KL(final || lens) averaged over all real (non-padding) positions"


def layer_file(layer: int) -> str:
    """Name of the safetensors file holding layer ``layer``'s lenses."""
    return f"layer_{layer:02d}.safetensors"


@dataclass(frozen=True)
class DataInfo:
    """The text a lens set was trained on: a name, a SHA-256 of its lines, and the held-out share."""

    name: str
    sha256: str
    n_texts: int
    holdout: float


@dataclass(frozen=True)
class LensHeader:
    """Everything about a lens set but its weights.

    ``final_kl[i][h]`` is the held-out KL(final || lens) of head ``h`` of layer ``layers[i]``
    after training (empty for imported lenses). ``hashes`` holds ``(layer, tensor name, SHA-256)``
    for every tensor of the folder; :func:`lens.storage.save_lenses` fills it in.
    """

    kind: str
    model_name: str
    fingerprint: str
    n_layers: int
    n_heads: int
    d_model: int
    d_vocab: int
    layers: tuple[int, ...]
    rank: int | None = None
    convention: str = CONVENTION_RAW
    data: DataInfo | None = None
    steps: int = 0
    seed: int = 0
    lr: float = 0.0
    final_kl: tuple[tuple[float, ...], ...] = field(default=())
    objective: str = OBJECTIVE
    input: str = INPUT
    hashes: tuple[tuple[int, str, str], ...] = field(default=())

    @classmethod
    def for_model(cls, spec: ModelSpec, kind: str, layers: tuple[int, ...], **fields) -> LensHeader:
        """A header pinning lenses of ``kind`` for ``layers`` to ``spec``'s model; ``fields`` set the rest."""
        return cls(kind=kind, model_name=spec.name, fingerprint=spec.fingerprint, n_layers=spec.n_layers,
                   n_heads=spec.n_heads, d_model=spec.d_model, d_vocab=spec.d_vocab, layers=layers, **fields)

    def layer_hashes(self, layer: int) -> dict[str, str]:
        """``{tensor name: SHA-256}`` of ``layer``'s tensors."""
        return {name: digest for l, name, digest in self.hashes if l == layer}

    def with_training(self, steps: int, final_kl: tuple[tuple[float, ...], ...]) -> LensHeader:
        """A copy recording how many steps were run and the KL reached per head."""
        return replace(self, steps=steps, final_kl=final_kl)

    def to_json(self) -> str:
        body = {"format": FORMAT, "version": VERSION, **asdict(self)}
        return json.dumps(body, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str = "lens header") -> LensHeader:
        try:
            body = json.loads(text)
        except json.JSONDecodeError as err:
            raise LensFormatError(f"{where} is not valid JSON ({err}); retrain or re-import the lenses") from err
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise LensFormatError(f"{where} is not a LensLab lens header (format {FORMAT!r} expected)")
        if body.get("version") != VERSION:
            raise LensFormatError(
                f"{where} has format version {body.get('version')}; this LensLab reads version {VERSION} "
                "(which records a hash of every tensor): retrain or re-import the lenses")
        try:
            data = body.get("data")
            return cls(**{
                **{k: v for k, v in body.items() if k not in ("format", "version")},
                "layers": tuple(body["layers"]),
                "data": None if data is None else DataInfo(**data),
                "final_kl": tuple(tuple(float(x) for x in row) for row in body.get("final_kl", ())),
                "hashes": tuple((int(l), str(n), str(d)) for l, n, d in body.get("hashes", ())),
            })
        except (KeyError, TypeError, ValueError) as err:
            raise LensFormatError(f"{where} lacks or misnames a field ({err}); retrain the lenses") from err

    def check_model(self, spec: ModelSpec) -> None:
        """Raise :class:`LensMismatch` unless ``spec`` (a ``ModelSpec``) is the model these lenses were made for."""
        if spec.fingerprint != self.fingerprint:
            raise LensMismatch(
                f"these lenses were made for model {self.model_name!r} (fingerprint {self.fingerprint}), "
                f"but the loaded model is {spec.name!r} (fingerprint {spec.fingerprint}); load "
                f"{self.model_name!r}, or train lenses for this model with "
                f"`python -m lens train --model {spec.name} --out DIR`")
        shape = (spec.n_layers, spec.n_heads, spec.d_model, spec.d_vocab)
        mine = (self.n_layers, self.n_heads, self.d_model, self.d_vocab)
        if shape != mine:
            raise LensMismatch(
                f"lenses have (n_layers, n_heads, d_model, d_vocab) = {mine} but the model has {shape}")


def write_header(folder: Path, header: LensHeader) -> None:
    """Write ``lens.json`` last and atomically, so a folder with a header is always complete."""
    tmp = Path(folder) / (HEADER_FILE + ".tmp")
    tmp.write_text(header.to_json(), encoding="utf-8")
    tmp.replace(Path(folder) / HEADER_FILE)


def read_header(folder: Path) -> LensHeader:
    """The header of a lens folder; :class:`LensFormatError` if there is none or it is corrupt."""
    path = Path(folder) / HEADER_FILE
    if not path.is_file():
        raise LensFormatError(
            f"{folder} holds no lenses ({HEADER_FILE} is missing); train some with "
            "`python -m lens train --model MODEL --out DIR`")
    return LensHeader.from_json(path.read_text(encoding="utf-8"), where=str(path))


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
