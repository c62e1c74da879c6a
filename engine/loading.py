"""Load a model lean: the device and precision it runs in, where its parts go, and the load itself.

Load a causal LM and its tokenizer from a local folder, lean: straight into the dtype and device asked for.

Reads only local files (``local_files_only=True``; ``engine.hub`` finds or fetches
the folder first). Never runs a model folder's own Python code:
``trust_remote_code=False`` on every load, so transformers neither asks on a
terminal nor imports a planted file. Weights are read into the requested dtype
on the requested device (no float32 copy on the host first); ``device_map="auto"``
spreads a model too large for one device over GPUs, the CPU and disk.

Where a model runs and in what precision: ``--device`` and ``--dtype`` for every command line.

``auto`` picks the first CUDA GPU when there is one, else Apple's MPS, else the
CPU. Float32 is the default; bfloat16 and float16 are opt-in and their numbers
differ from float32 (``precision_note`` says so in every output).

Where a model's parts go when it does not fit one device: accelerate's big-model placement.

``device_map="auto"`` fills the GPUs, then the CPU, then disk (an offload folder), block by
block. The parts the engine reads outside a block call (the token and position embeddings,
the final norm and the unembedding) are kept on the main device, never offloaded, so lenses
and logits read them as they are; offloaded block weights are read through their offload
hook (see ``engine.adapter.stored``).
"""

from __future__ import annotations

import argparse
import copy
import logging
import pickle
from pathlib import Path

import torch
from safetensors import SafetensorError

from engine.adapter import FAMILIES, TABLES
from engine.errors import ModelLoadError
from engine.hub import cache_dir
from engine.spec import fingerprint, fingerprint_files


DEVICES_HELP = "auto (a GPU when there is one), cpu, cuda, cuda:N or mps"
DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """The torch device ``name`` means; ModelLoadError if it is unknown or not on this machine."""
    text = str(name).strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", 0)
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    try:
        device = torch.device(text)
    except RuntimeError:
        raise ModelLoadError(f"unknown device {name!r}; use {DEVICES_HELP}") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = device.index or 0
        if index >= count:
            raise ModelLoadError(f"device {name!r} is not on this machine ({count} CUDA GPU(s) found); "
                                 "use --device cpu or auto")
        return torch.device("cuda", index)
    if device.type == "mps" and not _mps_available():
        raise ModelLoadError(f"device {name!r} is not available on this machine; use --device cpu or auto")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ModelLoadError(f"unknown device {name!r}; use {DEVICES_HELP}")
    return device


def resolve_dtype(name: str | torch.dtype = "float32") -> torch.dtype:
    """The torch dtype ``name`` means (float32, bfloat16 or float16); ModelLoadError otherwise."""
    if isinstance(name, torch.dtype):
        if name in DTYPES.values():
            return name
        raise ModelLoadError(f"dtype {name} is not supported; use one of {', '.join(DTYPES)}")
    if name not in DTYPES:
        raise ModelLoadError(f"unknown dtype {name!r}; use one of {', '.join(DTYPES)}")
    return DTYPES[name]


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` -> ``"bfloat16"``."""
    return str(dtype).removeprefix("torch.")


def precision_note(dtype: str) -> str:
    """A line for outputs computed below float32 precision ("" for float32)."""
    if dtype == "float32":
        return ""
    return (f"note: the model runs in {dtype}; its numbers differ from float32 "
            "(see docs/scaling.md for how much on the demo)")


def device_arg(text: str) -> str:
    """``--device``'s type: the text, once it names a device this machine has (else the flag's error)."""
    try:
        resolve_device(text)
    except ModelLoadError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def add_load_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--offline`` and ``--device-map`` (how ``--model`` is found and placed) to a command's parser."""
    parser.add_argument("--offline", action="store_true",
                        help="never download (like HF_HUB_OFFLINE=1): a Hub name must already be in the cache")
    parser.add_argument("--device-map", default=None, choices=("auto",),
                        help="auto: spread a model too large for one device over the GPUs, then the CPU, then disk")


def add_device_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--device`` and ``--dtype`` (and ``--offline``, ``--device-map``) to a command's parser."""
    parser.add_argument("--device", default="auto", type=device_arg, help=f"where the model runs: {DEVICES_HELP}")
    parser.add_argument("--dtype", default="float32", choices=tuple(DTYPES),
                        help="weights and activations; below float32 the numbers differ from float32")
    add_load_args(parser)


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


log = logging.getLogger(__name__)


def _excerpt(err: Exception, limit: int = 120) -> str:
    """The first line of a library's error, cut to ``limit`` characters (their messages run long)."""
    text = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return text if len(text) <= limit else text[:limit] + "…"


def _where(name: str) -> str:
    path = Path(name).expanduser()
    if path.exists():
        return f"the folder {path.resolve()}"
    return f"no folder {str(path)!r} and the Hugging Face cache at {cache_dir()}"


SAFE = {"local_files_only": True, "trust_remote_code": False}
CONVERT = ("LensLab never runs a model's own Python code; convert the model to a supported family "
           "(save it with that family's transformers class and save_pretrained) and load the converted folder")


def _custom_code(name: str) -> bool:
    """Whether ``name`` is a local folder whose config or tokenizer config asks for custom code (``auto_map``)."""
    for file in ("config.json", "tokenizer_config.json"):
        path = Path(name).expanduser() / file
        try:
            if path.is_file() and '"auto_map"' in path.read_text(encoding="utf-8", errors="replace"):
                return True
        except OSError:
            return False
    return False


def load_pretrained(name_or_path: str | Path, dtype: torch.dtype = torch.float32,
                    device: torch.device = torch.device("cpu"), device_map: str | dict | None = None,
                    offload_folder: str | Path | None = None, max_memory: dict | None = None):
    """(model, tokenizer): in ``dtype`` on ``device`` (or placed by ``device_map``), eval mode, no
    gradients, loaded with eager attention (every family has it; the Engine then switches each run to
    the fast kernel where the family has one, see ``engine.adapter``).

    Raises ModelLoadError for a missing folder, a name not in the local cache, or an unsupported family.
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    name = str(name_or_path)
    if Path(name).expanduser().is_file():
        raise ModelLoadError(f"{name} is a file; pass the folder that holds the model's config.json and weights")
    if _custom_code(name):
        raise ModelLoadError(f"model {name!r} asks to run its own code (auto_map in its config). {CONVERT}")
    try:
        config = AutoConfig.from_pretrained(name, **SAFE)
    except ValueError as err:
        if "custom code" in str(err):
            raise ModelLoadError(f"model {name!r} asks to run its own code. {CONVERT}") from err
        raise ModelLoadError(f"could not read the config of model {name!r} in {_where(name)}: {_excerpt(err)}") from err
    except OSError as err:
        raise ModelLoadError(
            f"could not load model {name!r}: looked in {_where(name)} and found no usable config.json "
            "(pass the folder that holds the model's config.json and weights, or a Hugging Face name)") from err
    if config.model_type not in FAMILIES:
        raise ModelLoadError(
            f"model {name!r} is a {config.model_type!r} model; supported families: {', '.join(FAMILIES)}")
    try:
        model = AutoModelForCausalLM.from_pretrained(
            name, **SAFE, dtype=dtype, attn_implementation="eager",
            **placement(config, dtype, device, device_map, offload_folder, max_memory))
        tokenizer = AutoTokenizer.from_pretrained(name, **SAFE)
    except (OSError, ValueError, RuntimeError, EOFError, SafetensorError, pickle.UnpicklingError) as err:
        raise ModelLoadError(
            f"could not load the weights or tokenizer of {name!r} from {_where(name)}: the files are damaged, "
            f"incomplete or of another model ({_excerpt(err)}); copy the model folder again") from err
    if not tokenizer.get_vocab() or tokenizer.vocab_size == 0:
        raise ModelLoadError(
            f"model {name!r} has no tokenizer: {_where(name)} holds no tokenizer files (tokenizer.json, or "
            "vocab.json and merges.txt); copy the tokenizer the model was trained with into that folder")
    model.eval()
    model.requires_grad_(False)
    log.info("loaded %s (%s, %d parameters)", name, config.model_type,
             sum(p.numel() for p in model.parameters()))
    return model, tokenizer


def stored_fingerprint(model, folder: str | Path) -> str:
    """The model's fingerprint from its unembedding as stored in ``folder`` (the same in every dtype).

    Falls back to the loaded weights (hashed in float32 chunks) when the files hold no safetensors
    copy under a name the model uses for it.
    """
    weight = model.get_output_embeddings().weight
    names = [k for k, v in model.state_dict(keep_vars=True).items() if v is weight]
    prefix = f"{model.base_model_prefix}."
    keys = tuple(names + [k.removeprefix(prefix) for k in names if k.startswith(prefix)])
    mark = fingerprint_files(model.config, folder, keys, tuple(weight.shape))
    if mark is not None:
        return mark
    if weight.device.type == "meta":
        raise ModelLoadError("the unembedding was offloaded and its stored copy was not found; "
                             "keep lm_head on a device (device_map) or save the model as safetensors")
    return fingerprint(model.config, weight.detach().T)
