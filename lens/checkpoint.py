"""Training checkpoints: lens weights, Adam state and the step reached, in one safetensors file.

A checkpoint is only resumed by a run with the same settings (``run_key``); the file is
written to a temporary name and renamed, so an interruption never leaves half a checkpoint.
A digest binds the step to the weights, and the step must match Adam's own step count, so a
checkpoint whose step was edited (early weights passed off as fully trained) is not resumed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from lens.integrity import tensor_digest

log = logging.getLogger(__name__)
CHECKPOINT_FILE = "checkpoint.safetensors"


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
