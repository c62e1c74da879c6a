"""A sweep folder's identity file: what makes two runs the same job, so a rerun resumes only its own."""

from __future__ import annotations

import json
from pathlib import Path


def check_identity(out: Path, identity: dict, name: str, error: type[Exception]) -> None:
    """Write ``identity`` to ``out/name`` on a first run; on a rerun, raise ``error`` unless it is the same.

    The file is written beside and renamed into place, so a crash never leaves half of it.
    """
    meta = out / name
    if not meta.is_file():
        out.mkdir(parents=True, exist_ok=True)
        tmp = meta.with_name(name + ".tmp")
        tmp.write_text(json.dumps(identity, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(meta)
        return
    try:
        old = json.loads(meta.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise error(f"{meta} is not valid JSON ({err}); delete the folder or choose another --out") from err
    if old != identity:
        changed = sorted(k for k in identity if old.get(k) != identity[k])
        raise error(f"{out} holds a sweep with different {', '.join(changed)}; "
                    "choose another --out folder or delete this one to start over")
