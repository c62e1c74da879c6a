"""A sweep as a resumable job: each (method, budget) row is appended to ``unlearn.csv`` as soon as it is scored.

``unlearn.json`` beside it records what is swept (model fingerprint, precision, specs, digests of
the secrets and the sets that must survive); rerunning into the same folder skips the rows already
there, and other settings are refused before anything is written. The folder is locked while
the sweep runs (see :mod:`sweeps`).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from engine import Engine
from promptsets.schema import SecretPrompt
from sweeps import OutputLock, RowAppender, read_rows, rewrite_rows
from sweeps.identity import check_identity, digest, engine_identity, write_identity
from unlearn.data import World
from unlearn.errors import UnlearnError
from unlearn.methods import UnlearnSpec
from unlearn.sweep import COLUMNS, Progress, spec_key, sweep

CSV_NAME = "unlearn.csv"
META_NAME = "unlearn.json"


class UnlearnResumeError(UnlearnError):
    """An output folder holds a sweep made with other settings; choose another folder or delete it."""


def identity(engine: Engine, world: World, secrets: Sequence[SecretPrompt], specs: Sequence[UnlearnSpec],
             limit: int | None) -> dict:
    """What makes two sweeps the same job: everything that changes a row's numbers."""
    return engine_identity(engine) | {
        "specs": [asdict(s) for s in specs], "limit": limit,
        "secrets_sha256": digest([asdict(s) for s in secrets]),
        "world_sha256": digest([[asdict(f) for f in world.facts], [asdict(t) for t in world.two_hop],
                                [asdict(b) for b in world.backdoor], list(world.clean.retain),
                                list(world.clean.heldout)]),
    }


def run_sweep_job(engine: Engine, world: World, secrets: Sequence[SecretPrompt], specs: Sequence[UnlearnSpec],
                  out: Path, limit: int | None = None, progress: Progress | None = None) -> list[dict]:
    """Run (or resume) the sweep into ``out/unlearn.csv``; returns every row, old and new."""
    out = Path(out)
    ident = identity(engine, world, secrets, specs, limit)
    path = out / CSV_NAME
    check_identity(out, ident, META_NAME, UnlearnResumeError, rows=path)
    read_rows(path, COLUMNS)
    with OutputLock(out):
        check_identity(out, ident, META_NAME, UnlearnResumeError, rows=path)
        keys = {spec_key(s) for s in specs}
        rows = [r for r in read_rows(path, COLUMNS).rows if r["key"] in keys]
        rows = list({r["key"]: r for r in rows}.values())
        write_identity(out, ident, META_NAME)
        rewrite_rows(path, COLUMNS, rows)
        with RowAppender(path, COLUMNS) as writer:
            def on_row(row: dict) -> None:
                writer.write({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
                rows.append(row)

            sweep(engine, world, secrets, specs, limit, {r["key"] for r in rows}, on_row, progress)
    return rows

