"""Where a model's parts go when it does not fit one device: accelerate's big-model placement.

``device_map="auto"`` fills the GPUs, then the CPU, then disk (an offload folder), block by
block. The parts the engine reads outside a block call (the token and position embeddings,
the final norm and the unembedding) are kept on the main device, never offloaded, so lenses
and logits read them as they are; offloaded block weights are read through their offload
hook (see ``engine.adapter.stored``).
"""

from __future__ import annotations

import copy

from pathlib import Path

import torch

from engine.errors import ModelLoadError
from engine.families import TABLES


def _pinned(model) -> list[str]:
    """Module names the engine reads directly: embeddings, final norm, unembedding."""
    table = TABLES[model.config.model_type]
    head = model.get_output_embeddings()
    names = [n for n, m in model.named_modules() if m is head]
    return [p for p in (table.embed, table.pos_embed, table.final_norm) if p] + names


def _split_down_to(mapping: dict, model, name: str) -> None:
    """Replace the key covering module ``name`` (a parent, or "") by its children, until ``name`` has its own."""
    while name not in mapping:
        parent = next((k for k in mapping if k == "" or name.startswith(k + ".")), None)
        if parent is None:
            return
        device = mapping.pop(parent)
        module = model.get_submodule(parent)
        for child, _ in module.named_children():
            mapping[f"{parent}.{child}" if parent else child] = device


def auto_device_map(config, dtype: torch.dtype, max_memory: dict | None = None) -> dict[str, str | int]:
    """accelerate's map for a model of ``config`` in ``dtype`` with the directly read parts on the main device."""
    from accelerate import infer_auto_device_map, init_empty_weights
    from transformers import AutoModelForCausalLM

    # from_config writes the attention implementation into the config it is given: a copy keeps a live
    # model's own config (and so its attention kernel) untouched.
    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(copy.deepcopy(config), dtype=dtype, attn_implementation="eager")
    model.tie_weights()
    mapping = dict(infer_auto_device_map(model, max_memory=max_memory, dtype=dtype,
                                         no_split_module_classes=model._no_split_modules or []))
    devices = [d for d in mapping.values() if d not in ("cpu", "disk")]
    main = devices[0] if devices else "cpu"
    for name in _pinned(model):
        for key in [k for k in mapping if k.startswith(name + ".")]:
            del mapping[key]
        _split_down_to(mapping, model, name)
        mapping[name] = main
    return mapping


def placement(config, dtype: torch.dtype, device: torch.device, device_map: str | dict | None,
              offload_folder: str | Path | None, max_memory: dict | None = None) -> dict:
    """from_pretrained's placement arguments: the whole model on ``device``, or spread by ``device_map``."""
    if device_map is None:
        return {"device_map": {"": device}}
    if device_map == "auto":
        device_map = auto_device_map(config, dtype, max_memory)
    elif not isinstance(device_map, dict):
        raise ModelLoadError(f"unknown device map {device_map!r}; use 'auto' or a dict of module -> device")
    if "disk" in device_map.values() and not offload_folder:
        raise ModelLoadError("this device map offloads to disk: pass an offload folder")
    return {"device_map": device_map, "offload_folder": str(offload_folder) if offload_folder else None}
