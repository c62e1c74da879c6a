"""Load a causal LM and its tokenizer from a local folder, lean: straight into the dtype and device asked for.

Reads only local files (``local_files_only=True``; ``engine.hub`` finds or fetches
the folder first). Never runs a model folder's own Python code:
``trust_remote_code=False`` on every load, so transformers neither asks on a
terminal nor imports a planted file. Weights are read into the requested dtype
on the requested device (no float32 copy on the host first); ``device_map="auto"``
spreads a model too large for one device over GPUs, the CPU and disk.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import torch
from safetensors import SafetensorError

from engine.errors import ModelLoadError
from engine.families import FAMILIES
from engine.hub import cache_dir
from engine.placement import placement
from engine.spec import fingerprint, fingerprint_files

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
    the fast kernel where the family has one, see ``engine.attention``).

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
