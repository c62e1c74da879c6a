"""Lens folders and training checkpoints on disk, both safetensors.

A lens folder is a JSON header plus one safetensors file per layer, read lazily with mmap.
A training checkpoint holds lens weights, Adam state and the step reached, in one safetensors
file in the folder being trained. A checkpoint is only resumed by a run with the same settings
(``run_key``); the file is written to a temporary name and renamed, so an interruption never
leaves half a checkpoint. A digest binds the step to the weights, and the step must match Adam's
own step count, so a checkpoint whose step was edited (early weights passed off as fully trained)
is not resumed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import replace
from pathlib import Path
from typing import Mapping

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from lens.errors import LensFormatError
from lens.header import (LensHeader, check_finite, check_hashes, check_target, layer_file, move_into_place,
                         read_header, staging_folder, tensor_digest, write_header)
from lens.lenses import LayerLens, Lens, Unembed, layer_lens_from_state

log = logging.getLogger(__name__)
CHECKPOINT_FILE = "checkpoint.safetensors"


def save_lenses(folder: Path, header: LensHeader, states: Mapping[int, Mapping[str, Tensor]],
                overwrite: bool = False) -> Path:
    """Write ``folder`` whole: one safetensors file per layer, then ``header`` with every tensor's hash.

    The files go to a temporary sibling first, which is renamed into place, so ``folder`` is
    never half-written. A folder already holding lenses is replaced only with ``overwrite``.
    """
    folder = Path(folder)
    check_target(folder, overwrite)
    if set(states) != set(header.layers):
        raise ValueError(f"header lists layers {header.layers} but weights were given for {sorted(states)}")
    tensors = {layer: {name: t.detach().contiguous() for name, t in state.items()} for layer, state in states.items()}
    for layer, state in tensors.items():
        check_finite(state, f"layer {layer}'s lenses", "training diverged: lower --lr and train again")
    hashes = tuple((layer, name, tensor_digest(t))
                   for layer in sorted(tensors) for name, t in sorted(tensors[layer].items()))
    tmp = staging_folder(folder)
    for layer, state in tensors.items():
        # One metadata entry only: safetensors writes a map's keys in no fixed order, and
        # rebuilds must give the same bytes.
        save_file(state, str(tmp / layer_file(layer)), metadata={"lens": f"{header.kind} layer {layer}"})
    write_header(tmp, replace(header, hashes=hashes))
    move_into_place(tmp, folder)
    return folder


class ModuleLens(Lens):
    """Layer lenses held in memory, ``{layer: module}``, with the unembedding compact lenses end in."""

    def __init__(self, modules: Mapping[int, LayerLens], unembed: Unembed, name: str = "attention lens") -> None:
        self.unembed = unembed
        self.name = name
        self._loaded: dict[int, LayerLens] = dict(modules)

    @property
    def layers(self) -> tuple[int, ...]:
        return tuple(sorted(self._loaded))

    def layer(self, layer: int) -> LayerLens:
        """The lens module of ``layer``."""
        return self._loaded[self.check_layer(layer)]

    @torch.no_grad()
    def head_logits(self, layer: int, x: Tensor, heads: slice = slice(None)) -> Tensor:
        """``x``: ``(..., h, d_model)`` writes of ``layer``'s heads ``heads`` -> ``(..., h, d_vocab)``."""
        return self.layer(layer)(x, self.unembed, heads)

    def n_params(self, layer: int) -> int:
        """Number of parameters of ``layer``'s lenses (all heads)."""
        return sum(p.numel() for p in self.layer(layer).parameters())


class LensSet(ModuleLens):
    """Trained Attention Lenses of one kind for one model, from a folder; each layer is read on first use.

    Safe to share between threads: loading a layer is guarded by a lock, decoding is read-only.
    """

    def __init__(self, folder: Path, header: LensHeader, unembed: Unembed) -> None:
        super().__init__({}, unembed, f"{header.kind} attention lens")
        self.folder = Path(folder)
        self.header = header
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        return self.header.kind

    @property
    def layers(self) -> tuple[int, ...]:
        return self.header.layers

    def layer(self, layer: int) -> LayerLens:
        """The lens module of ``layer`` (read from disk the first time)."""
        self.check_layer(layer)
        with self._lock:
            if layer not in self._loaded:
                self._loaded[layer] = self._read(layer)
            return self._loaded[layer]

    def _read(self, layer: int) -> LayerLens:
        path = self.folder / layer_file(layer)
        if not path.is_file():
            raise LensFormatError(f"{path} is missing; the lens folder is incomplete, retrain the lenses")
        try:
            with safe_open(str(path), framework="pt", device="cpu") as f:
                state = {name: f.get_tensor(name) for name in f.keys()}
        except (SafetensorError, OSError) as err:
            raise LensFormatError(f"{path} is not a readable safetensors file ({err}); retrain the lenses") from err
        check_hashes(state, self.header.layer_hashes(layer), str(path))
        check_finite(state, str(path), "retrain or re-import the lenses")
        h = self.header
        return layer_lens_from_state(h.kind, state, h.n_heads, h.d_model, h.d_vocab, h.rank)

    def nbytes(self, layer: int) -> int:
        """Bytes ``layer``'s lenses take on disk."""
        self.check_layer(layer)
        return (self.folder / layer_file(layer)).stat().st_size


def open_lenses(folder: Path, spec, unembed: Unembed) -> LensSet:
    """Open a lens folder for the model ``spec`` describes; :class:`LensMismatch` if made for another."""
    header = read_header(folder)
    header.check_model(spec)
    return LensSet(folder, header, unembed)


def save_checkpoint(folder: Path, run_key: dict, step: int, lenses: dict[int, nn.Module],
                    opt: torch.optim.Optimizer) -> Path:
    """Write the training state after ``step`` steps to ``folder/checkpoint.safetensors``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"lens.{layer}.{name}": p.detach().contiguous()
               for layer, lens in lenses.items() for name, p in lens.named_parameters()}
    for i, state in opt.state_dict()["state"].items():
        for name, value in state.items():
            tensors[f"opt.{i}.{name}"] = torch.as_tensor(value).detach().contiguous()
    meta = {"run": json.dumps(run_key, sort_keys=True), "step": str(step)}
    meta["digest"] = _digest(meta, tensors)
    tmp = folder / (CHECKPOINT_FILE + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(folder / CHECKPOINT_FILE)
    return folder / CHECKPOINT_FILE


def load_checkpoint(folder: Path, run_key: dict, lenses: dict[int, nn.Module],
                    opt: torch.optim.Optimizer) -> int:
    """Restore a matching checkpoint into ``lenses`` and ``opt``; return its step (0 if none matches)."""
    path = Path(folder) / CHECKPOINT_FILE
    if not path.is_file():
        return 0
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            if meta.get("run") != json.dumps(run_key, sort_keys=True):
                log.warning("ignoring %s: it was made with other settings; starting afresh", path)
                return 0
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError) as err:
        log.warning("ignoring unreadable checkpoint %s (%s); starting afresh", path, err)
        return 0
    problem = _check(meta, tensors)
    if problem:
        log.warning("ignoring %s: %s; starting afresh", path, problem)
        return 0
    with torch.no_grad():
        for layer, lens in lenses.items():
            for name, p in lens.named_parameters():
                p.copy_(tensors[f"lens.{layer}.{name}"])
    state = opt.state_dict()
    n_params = len(state["param_groups"][0]["params"])
    state["state"] = {
        i: {name: tensors[f"opt.{i}.{name}"] for name in ("step", "exp_avg", "exp_avg_sq")}
        for i in range(n_params) if f"opt.{i}.step" in tensors
    }
    opt.load_state_dict(state)
    step = int(meta["step"])
    log.info("resuming lens training from step %d (%s)", step, path)
    return step


def _digest(meta: dict[str, str], tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256(f"{meta.get('run')}|{meta.get('step')}".encode())
    for name in sorted(tensors):
        h.update(f"|{name}:{tensor_digest(tensors[name])}".encode())
    return h.hexdigest()


def _check(meta: dict[str, str], tensors: dict[str, torch.Tensor]) -> str:
    """Why the checkpoint cannot be trusted, or "" if it can."""
    if meta.get("digest") != _digest(meta, tensors):
        return "its step or weights do not match its digest (edited or damaged)"
    adam_steps = {int(t) for name, t in tensors.items() if name.startswith("opt.") and name.endswith(".step")}
    if adam_steps != {int(meta["step"])}:
        return f"its step {meta['step']} does not match the optimiser's step count {sorted(adam_steps)}"
    return ""


def remove_checkpoint(folder: Path) -> None:
    """Delete the checkpoint once training has finished and the lenses are saved."""
    (Path(folder) / CHECKPOINT_FILE).unlink(missing_ok=True)
