"""Import checkpoints of the original Attention Lens tool (Lightning ``.ckpt``, one per layer).

Only the lens weights are kept: such a file also holds the whole model and the optimiser
state (~6 GB per layer for GPT-2 small). Files are read with ``torch.load(weights_only=True)``,
so one that needs pickle code execution to load is refused, never run.
"""

from __future__ import annotations

import logging
import pickle
import re
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

from engine.spec import ModelSpec
from lens.errors import LensImportError, LensMismatch
from lens.header import CONVENTION_TL, LensHeader, check_finite, check_target, read_header
from lens.storage import save_lenses
from sweeps import OutputLock

log = logging.getLogger(__name__)

_LAYER_IN_NAME = re.compile(r"attnlens-layer-(\d+)")
_PREFIXES = ("_forward_module.", "attn_lens.", "lenses.0.")
_GLOBAL = re.compile(r"GLOBAL [\w.]+")
_LENS_KEY = re.compile(r"^linears\.(\d+)\.(weight|bias)$")


def layer_from_name(path: Path) -> int:
    """The layer an original checkpoint is for, from its ``attnlens-layer-{L}-...`` file name."""
    found = _LAYER_IN_NAME.search(Path(path).name)
    if found is None:
        raise LensImportError(
            f"cannot tell the layer of {path}: original checkpoints are named "
            "'attnlens-layer-{L}-epoch=..-step=..-train_loss=...ckpt'; rename it that way")
    return int(found.group(1))


def _load(path: Path) -> object:
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as err:
            if "mmap" not in str(err):
                raise
            return torch.load(path, map_location="cpu", weights_only=True)  # legacy (non-zip) format
    except pickle.UnpicklingError as err:
        found = _GLOBAL.search(str(err))
        if found is None:
            raise LensImportError(
                f"{path} is not a readable PyTorch checkpoint (it does not unpickle as data)") from err
        raise LensImportError(
            f"refusing to load {path}: it needs pickle code execution ({found.group(0)} is not plain data). "
            "In an environment you trust, re-save only its tensors, e.g. torch.save({k: v for k, v in "
            "ckpt['state_dict'].items() if 'linears' in k}, 'attnlens-layer-L.ckpt')") from err
    except (OSError, RuntimeError, EOFError, ValueError) as err:
        raise LensImportError(f"{path} is not a readable PyTorch checkpoint ({err})") from err


def _strip(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key, changed = key[len(prefix):], True
    return key


def read_original(path: Path) -> dict[str, Tensor]:
    """Lens weights of one checkpoint: ``weight`` ``(n_heads, d_vocab, d_model)``, ``bias`` ``(n_heads, d_vocab)``."""
    obj = _load(Path(path))
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict):
        raise LensImportError(f"{path} holds no state dict of tensors; is it an Attention Lens checkpoint?")
    heads: dict[int, dict[str, Tensor]] = {}
    for key, value in state.items():
        found = _LENS_KEY.match(_strip(str(key)))
        if found and isinstance(value, Tensor):
            heads.setdefault(int(found.group(1)), {})[found.group(2)] = value.detach().float()
    if not heads:
        raise LensImportError(
            f"{path} has no 'attn_lens...linears.{{h}}.weight' tensors; is it an Attention Lens checkpoint?")
    if sorted(heads) != list(range(len(heads))) or any(set(h) != {"weight", "bias"} for h in heads.values()):
        raise LensImportError(f"{path} has an incomplete set of head lenses (heads found: {sorted(heads)})")
    return {
        "weight": torch.stack([heads[h]["weight"] for h in range(len(heads))]),
        "bias": torch.stack([heads[h]["bias"] for h in range(len(heads))]),
    }


def _check_shapes(path: Path, state: dict[str, Tensor], spec: ModelSpec) -> None:
    n_heads, d_vocab, d_model = state["weight"].shape
    if (n_heads, d_vocab, d_model) != (spec.n_heads, spec.d_vocab, spec.d_model):
        raise LensMismatch(
            f"{path} holds lenses for (n_heads, d_vocab, d_model) = {(n_heads, d_vocab, d_model)}, "
            f"but model {spec.name!r} has {(spec.n_heads, spec.d_vocab, spec.d_model)}")


def import_original(files: Sequence[Path], out_dir: Path, spec: ModelSpec, overwrite: bool = False) -> LensHeader:
    """Convert original per-layer checkpoints into a ``full`` lens folder pinned to ``spec``'s model.

    The lenses keep the original's TransformerLens weight convention, recorded in the header.
    All or nothing: ``out_dir`` is written whole once every file has passed its checks, and
    one that already holds lenses is replaced (whole) only with ``overwrite``.
    """
    with OutputLock.beside(out_dir):
        check_target(out_dir, overwrite)
        states: dict[int, dict[str, Tensor]] = {}
        for path in files:
            layer = layer_from_name(path)
            if not 0 <= layer < spec.n_layers:
                raise LensMismatch(f"{path} is for layer {layer}; model {spec.name!r} has layers 0-{spec.n_layers - 1}")
            if layer in states:
                raise LensImportError(f"two checkpoints are for layer {layer}; pass one file per layer")
            states[layer] = read_original(path)
            _check_shapes(path, states[layer], spec)
            check_finite(states[layer], str(path), "this checkpoint cannot be used")
            log.info("imported layer %d from %s", layer, path)
        header = LensHeader.for_model(spec, "full", tuple(sorted(states)), convention=CONVENTION_TL)
        save_lenses(out_dir, header, states, overwrite=overwrite)
        return read_header(out_dir)
