"""A sweep as a resumable job: each edit's row is appended to a CSV as soon as it is measured.

An output folder holds ``edits.json`` (what is swept: model fingerprint, precision, settings,
digests of the cases, the texts and the topic clusters) and ``edits.csv``; rerunning with the
same folder skips the rows already there, and rerunning with other settings is refused, before
anything is written, rather than mixed. Each row is computed on its own (no batch shares two
edits), so a resumed row equals an uninterrupted one. The folder is locked while the
sweep runs and each row is flushed as it is written (see :mod:`sweepio`).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from edit.cases import EditCase
from edit.errors import EditResumeError
from edit.spec import EditSpec
from edit.sweep import CURVES, Progress, SweepSettings, sweep_edits
from sweepio import OutputLock, RowAppender, read_rows, rewrite_rows
from sweepio.meta import check_identity, digest, engine_identity, write_identity

CSV_NAME = "edits.csv"
META_NAME = "edits.json"
COLUMNS = ("key", "relation", "topic", "prompt", "subject", "answer", "new", "method", "label", "layer", "dtype",
           "steps",
           "p_trained", "efficacy", "efficacy_p", "generalisation", "specificity", "damage",
           *(f"halving_{c}" for c in CURVES), *(f"curve_{c}" for c in CURVES))


def identity(engine, cases: Sequence[EditCase], specs: Sequence[EditSpec], settings: SweepSettings,
             key_texts: Sequence[str] = (), heldout: Sequence[str] = ()) -> dict:
    """What makes two sweeps the same job: everything that changes a row's numbers."""
    topics = sorted({c.topic for c in cases if c.topic})
    clusters = {t: (Path(settings.clusters) / f"{t}.json") for t in topics} if settings.clusters else {}
    return engine_identity(engine) | {
        "specs": [asdict(s) for s in specs], "settings": json.loads(json.dumps(asdict(settings))),
        "n_cases": len(cases), "cases_sha256": digest([asdict(c) for c in cases]),
        "key_texts_sha256": digest(list(key_texts)), "n_heldout": len(heldout),
        "heldout_sha256": digest(list(heldout)),
        "clusters_sha256": digest({t: p.read_text(encoding="utf-8") for t, p in clusters.items() if p.is_file()}),
    }


def done_rows(path: Path) -> list[dict]:
    """The complete rows of ``path``, each (case, method) once; torn lines from an interrupted run are dropped."""
    rows, seen = [], set()
    for row in read_rows(path, COLUMNS).rows:
        key = (row["key"], row["label"])
        if row["key"] and row["label"] and key not in seen:
            seen.add(key)
            rows.append(row)
    return rows


def run_edit_job(engine, cases: Sequence[EditCase], specs: Sequence[EditSpec], settings: SweepSettings, out: Path,
                 key_texts: Sequence[str] = (), heldout: Sequence[str] = (),
                 progress: Progress | None = None) -> list[dict]:
    """Run (or resume) the sweep into ``out/edits.csv``; returns every row, old and new.

    A folder of another sweep is refused before anything is written.
    While it runs, the folder's lock refuses a second writer (:class:`sweepio.OutputLockedError`).
    """
    out = Path(out)
    ident = identity(engine, cases, specs, settings, key_texts, heldout)
    path = out / CSV_NAME
    check_identity(out, ident, META_NAME, EditResumeError, rows=path)
    read_rows(path, COLUMNS)
    with OutputLock(out):
        check_identity(out, ident, META_NAME, EditResumeError, rows=path)
        rows = done_rows(path)
        write_identity(out, ident, META_NAME)
        rewrite_rows(path, COLUMNS, rows)
        done = {(r["key"], r["label"]) for r in rows}
        with RowAppender(path, COLUMNS) as writer:
            def on_row(row: dict) -> None:
                row = row | {"dtype": engine.spec.dtype}
                writer.write({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
                rows.append(row)

            sweep_edits(engine, cases, specs, settings, key_texts, heldout, done, on_row, progress)
    return rows
