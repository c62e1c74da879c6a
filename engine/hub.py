"""Find a model by Hugging Face name: in the local cache, or downloaded from the Hub, safely.

Only safetensors weights, configs and tokenizer files are fetched (never a pickle
such as ``pytorch_model.bin``, never a model's own ``.py`` code); a repository
with pickle weights only, a config asking for custom code (``auto_map``) or an
unsupported family is refused before its weights are fetched. Nothing is
downloaded when ``HF_HUB_OFFLINE=1`` or the caller says so: the error then gives
the command that fetches the model first.
"""

from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from engine.errors import ModelLoadError
from engine.adapter import FAMILIES

# Top-level files fetched from a repository: weights as safetensors, configs, tokenizer files.
ALLOW = ("*.safetensors", "*.json", "*.txt", "tokenizer.model")
# Called as progress(bytes done, bytes in all, file being fetched).
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class RemoteFile:
    """One file of a Hub repository that a fetch takes, and its size in bytes."""

    name: str
    size: int


def fetch_command(name: str) -> str:
    """The command that downloads ``name`` the way LensLab would (for messages)."""
    return f"python -m engine fetch {name}"


def offline_by_env() -> bool:
    """Whether the environment turns downloads off (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE), read now."""
    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return any(f.strip().lower() in ("1", "true", "yes", "on") for f in flags)


def endpoint() -> str:
    """The Hub's address: ``HF_ENDPOINT`` as set now, else huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def cache_dir() -> Path:
    """The Hugging Face hub cache as the environment says now (HF_HUB_CACHE, else HF_HOME/hub)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def wanted(filename: str) -> bool:
    """Whether a repository file is one LensLab fetches (top level, safetensors / config / tokenizer)."""
    return "/" not in filename and any(fnmatch.fnmatch(filename, p) for p in ALLOW)


def _complete(folder: Path) -> bool:
    """Whether a cached snapshot has a config and every weight file it needs."""
    if not (folder / "config.json").is_file():
        return False
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = set(json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}).values())
        return all((folder / s).is_file() for s in shards)
    return any(folder.glob("*.safetensors")) or any(folder.glob("*.bin"))


def cached_folder(name: str) -> Path | None:
    """The complete cached snapshot of ``name`` (the one ``refs/main`` points at), or None."""
    repo = cache_dir() / ("models--" + name.replace("/", "--"))
    try:
        commit = (repo / "refs" / "main").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    folder = repo / "snapshots" / commit
    return folder if _complete(folder) else None


def _network_errors() -> tuple[type[Exception], ...]:
    errors: list[type[Exception]] = [OSError, ValueError]
    try:
        import httpx2
        errors.append(httpx2.HTTPError)
    except ImportError:  # pragma: no cover - depends on the hub client's version
        pass
    return tuple(errors)


def _hub_error(name: str, err: Exception) -> ModelLoadError:
    """The one-line message for a failed Hub request."""
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    if isinstance(err, GatedRepoError):
        return ModelLoadError(f"model {name!r} is gated on the Hub: accept its terms on its page, log in "
                              f"with `hf auth login`, then run {fetch_command(name)}")
    if isinstance(err, RepositoryNotFoundError):
        return ModelLoadError(f"no model {name!r} on the Hub at {endpoint()} (check the spelling, e.g. "
                              "'openai-community/gpt2'), and no folder of that name here")
    first = (str(err).strip().splitlines() or [type(err).__name__])[0][:120]
    return ModelLoadError(f"could not download {name!r} from {endpoint()}: {first}; check the connection "
                          f"and run {fetch_command(name)} again (finished files are kept)")


def plan(name: str) -> tuple[str, tuple[RemoteFile, ...]]:
    """(commit, the files a fetch takes with their sizes), from the Hub's API; refuses pickle-only repos."""
    from huggingface_hub import HfApi

    try:
        info = HfApi(endpoint=endpoint()).model_info(name, files_metadata=True)
    except _network_errors() as err:
        raise _hub_error(name, err) from None
    names = [s.rfilename for s in info.siblings or ()]
    files = tuple(RemoteFile(s.rfilename, int(s.size or 0)) for s in info.siblings or () if wanted(s.rfilename))
    if not any(f.name.endswith(".safetensors") for f in files):
        pickles = [n for n in names if n.endswith((".bin", ".pt", ".pth", ".ckpt"))]
        kind = f"only pickle weights ({', '.join(pickles[:3])})" if pickles else "no safetensors weights"
        raise ModelLoadError(f"model {name!r} has {kind} on the Hub; LensLab never loads a downloaded pickle. "
                             "Convert it to safetensors (load it where you trust it, save_pretrained) and pass "
                             "that folder")
    if not any(f.name == "config.json" for f in files):
        raise ModelLoadError(f"model {name!r} has no config.json on the Hub; it is not a transformers model")
    return str(info.sha), files


def _check_config(name: str, path: Path) -> None:
    """Refuse custom code and unsupported families before any weights are fetched."""
    config = json.loads(path.read_text(encoding="utf-8"))
    if "auto_map" in config:
        raise ModelLoadError(f"model {name!r} asks to run its own code (auto_map in its config); LensLab never "
                             "runs a model's own Python code: convert it to a supported family")
    if config.get("model_type") not in FAMILIES:
        raise ModelLoadError(f"model {name!r} is a {config.get('model_type')!r} model; supported families: "
                             f"{', '.join(FAMILIES)}")


def _reporter(progress: Progress, total: int, done: list[int], current: list[str]):
    """A tqdm class that forwards byte counts to ``progress`` (silent itself)."""
    from tqdm.auto import tqdm

    class Reporter(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            done[0] += int(n or 0)
            progress(min(done[0], total), total, current[0])

    return Reporter


def fetch(name: str, progress: Progress | None = None,
          planned: tuple[str, tuple[RemoteFile, ...]] | None = None) -> Path:
    """Download ``name``'s safetensors weights, configs and tokenizer files; the local snapshot folder.

    Without ``progress`` a tqdm bar of the bytes (with the total size) shows on stderr; ``planned``
    is :func:`plan`'s answer if the caller already has it. Raises ModelLoadError for a pickle-only
    repository, custom code, an unsupported family or a failed download.
    """
    files = (planned or plan(name))[1]
    files = tuple(sorted(files, key=lambda f: (f.name != "config.json", f.name)))
    total = sum(f.size for f in files)
    if progress is not None:
        return _download(name, files, total, progress)
    from tqdm.auto import tqdm

    with tqdm(total=total, unit="B", unit_scale=True, desc=f"fetching {name}") as bar:
        def show(done: int, whole: int, file: str) -> None:
            bar.set_postfix_str(file, refresh=False)
            bar.update(done - bar.n)
        return _download(name, files, total, show)


def _download(name: str, files: tuple[RemoteFile, ...], total: int, progress: Progress) -> Path:
    """Fetch ``files`` (config.json first, checked before the rest) into the cache, reporting bytes."""
    from huggingface_hub import hf_hub_download

    done, current = [0], [""]
    bars = _reporter(progress, total, done, current)
    folder = cache_dir()
    for index, file in enumerate(files):
        current[0], before = file.name, done[0]
        try:
            # By branch, not commit, so the cache records refs/main and later loads find the snapshot.
            path = Path(hf_hub_download(name, file.name, endpoint=endpoint(), cache_dir=cache_dir(),
                                        tqdm_class=bars))
        except _network_errors() as err:
            raise _hub_error(name, err) from None
        done[0] = before + file.size  # a cached file reports nothing; count it whole
        progress(done[0], total, file.name)
        if index == 0:
            _check_config(name, path)
        folder = path.parent
    return folder


def needs_fetch(name: str) -> bool:
    """Whether loading ``name`` would download it: no such folder, not cached, a Hub-like name."""
    return not Path(name).expanduser().exists() and cached_folder(name) is None and _hub_like(name)


def _hub_like(name: str) -> bool:
    return not (name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name or not name.strip())


def local_folder(name: str, offline: bool = False, progress: Progress | None = None) -> Path:
    """The folder to load ``name`` from: the folder itself, its cached snapshot, or a fresh download.

    ``offline`` (or HF_HUB_OFFLINE=1) forbids downloads: a name not in the cache then raises
    ModelLoadError giving the command that fetches it first.
    """
    path = Path(name).expanduser()
    if path.exists():
        return path
    cached = cached_folder(name)
    if cached is not None:
        return cached
    if not _hub_like(name):
        raise ModelLoadError(f"no folder {name!r} here (and it is no Hugging Face name); check the path")
    if offline or offline_by_env():
        why = "offline or workshop mode" if offline else "HF_HUB_OFFLINE=1"
        raise ModelLoadError(f"model {name!r} is not in the Hugging Face cache at {cache_dir()} and downloads are "
                             f"off ({why}); fetch it first: {fetch_command(name)}")
    return fetch(name, progress)
