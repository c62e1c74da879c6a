"""A sweep's identity file: everything that changes its numbers, so a rerun resumes only its own sweep.

The identity is checked before any work (read only, nothing written) and written once every
argument has been checked, so a refused run leaves the folder as it found it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def digest(value: Any) -> str:
    """The SHA-256 of ``value``'s canonical JSON (sorted keys): a fingerprint of prompts, cases or units."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def engine_identity(engine) -> dict:
    """What of the running engine changes a number: model fingerprint, precision, device kind, torch threads."""
    import torch

    return {"model": engine.spec.fingerprint, "dtype": engine.spec.dtype, "device": engine.spec.device.split(":")[0],
            "threads": torch.get_num_threads()}


def _plain(identity: dict) -> dict:
    """``identity`` as JSON reads it back (tuples become lists), so a stored identity compares equal."""
    return json.loads(json.dumps(identity, sort_keys=True, default=str))


def differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Dotted names of the entries that differ between two identities, e.g. ``["spec.samples", "dtype"]``."""
    names = []
    for key in sorted(set(old) | set(new), key=str):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            names += differences(a, b, f"{prefix}{key}.")
        elif a != b:
            names.append(f"{prefix}{key}")
    return names


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 24 else text[:20] + "…"


def check_identity(out: Path, identity: dict, name: str, error: type[Exception], rows: Path | None = None,
                   fresh: str = "") -> None:
    """Raise ``error`` (one line: what differs and how to start fresh) unless ``out/name`` holds ``identity``.

    A folder without the file passes, unless ``rows`` (its CSV) already holds rows of an unknown sweep.
    Reads only: nothing is written here (see :func:`write_identity`).
    """
    meta = Path(out) / name
    fresh = fresh or "delete that folder"
    if not meta.is_file():
        if rows is not None and rows.is_file() and rows.stat().st_size > 0:
            raise error(f"{rows} was written without its identity file {name}, so resuming it could mix "
                        f"different sweeps; start fresh with another --out, or {fresh}")
        return
    try:
        old = json.loads(meta.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise error(f"{meta} is not valid JSON ({err}); start fresh with another --out, or {fresh}") from None
    new = _plain(identity)
    if old != new:
        changed = differences(old if isinstance(old, dict) else {}, new) or ["identity"]
        # A readable setting makes the better example than a hash.
        first = next((c for c in changed if not c.endswith("sha256")), changed[0])
        raise error(f"{out} holds a sweep with different {', '.join(changed)} ({first}: {_shown(_dig(old, first))} "
                    f"there, {_shown(_dig(new, first))} now); start fresh with another --out, or {fresh}")


def _dig(identity: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        identity = identity.get(part) if isinstance(identity, dict) else None
    return identity


def write_identity(out: Path, identity: dict, name: str) -> None:
    """Write ``identity`` to ``out/name`` (beside, then renamed into place, so a crash never leaves half of it)."""
    meta = Path(out) / name
    tmp = meta.with_name(name + ".tmp")
    tmp.write_text(json.dumps(_plain(identity), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(meta)
