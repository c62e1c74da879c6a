"""Where a model runs and in what precision: ``--device`` and ``--dtype`` for every command line.

``auto`` picks the first CUDA GPU when there is one, else Apple's MPS, else the
CPU. Float32 is the default; bfloat16 and float16 are opt-in and their numbers
differ from float32 (``precision_note`` says so in every output).
"""

from __future__ import annotations

import argparse

import torch

from engine.errors import ModelLoadError

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
