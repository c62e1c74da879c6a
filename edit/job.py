"""A sweep as a resumable job: each edit's row is appended to a CSV as soon as it is measured.

An output folder holds ``edits.json`` (what is swept: model fingerprint, precision, settings,
digests of the cases, the texts and the topic clusters) and ``edits.csv``; rerunning with the
same folder skips the rows already there, and rerunning with other settings is refused, before
anything is written, rather than mixed. Each row is computed on its own (no batch shares two
edits), so a resumed row equals an uninterrupted one, however many cells a task runs. The job is
the one resumable sweep job (:func:`sweeps.run_job`); this module describes its grid (fact x method),
its cell (:func:`edit.sweep.chunk_rows`) and its row.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from edit.cases import EditCase
from edit.errors import EditResumeError
from edit.spec import EditSpec
from edit.sweep import CURVES, Progress, SweepSettings, case_key, chunk_rows, edit_chunks, task_settings
from sweeps import Identity, Runner, Sweep, SweepFiles, run_job
from sweeps.identity import digest, engine_identity

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


def _stored_key(row: dict) -> tuple[str, str] | None:
    return (row["key"], row["label"]) if row["key"] and row["label"] else None


def _written(row: dict, dtype: str) -> dict:
    """One computed row as the CSV holds it: with its precision, floats as ``repr`` writes them."""
    return {k: (repr(float(v)) if isinstance(v, float) else v) for k, v in (row | {"dtype": dtype}).items()}


def run_edit_job(engine, cases: Sequence[EditCase], specs: Sequence[EditSpec], settings: SweepSettings, out: Path,
                 key_texts: Sequence[str] = (), heldout: Sequence[str] = (), progress: Progress | None = None,
                 runner: Runner | None = None, chunk: int | None = None) -> list[dict]:
    """Run (or resume) the sweep into ``out/edits.csv``; returns every row, old and new, fact by fact.

    The one resumable job (:func:`sweeps.run_job`) runs it: a folder of another sweep is refused before
    anything is written, and while it runs the folder's lock refuses a second writer. ``runner``
    (default: this process; a ``sweeps.EnginePool`` runs on Ray workers) computes ``chunk`` cells per
    task (default: one fact's methods; see :func:`edit.sweep.edit_chunks`); this process writes every row.
    """
    out = Path(out)
    ident = Identity(identity(engine, cases, specs, settings, key_texts, heldout), EditResumeError)

    def plan() -> Sweep:
        return Sweep(chunks=edit_chunks(len(cases), len(specs), chunk), task=chunk_rows,
                     rows=lambda cell, row: [_written(row, engine.spec.dtype)],
                     key=lambda cell: (case_key(cell[0], cases[cell[0]]), specs[cell[1]].label),
                     stored_key=_stored_key,
                     args=(tuple(cases), tuple(specs), task_settings(settings), tuple(key_texts), tuple(heldout)))

    result = run_job(engine, SweepFiles(out / CSV_NAME, out / META_NAME, COLUMNS), ident, plan, runner, progress)
    # In the grid's order (fact, then method), whatever order the tasks finished in.
    keys = [(case_key(i, case), spec.label) for i, case in enumerate(cases) for spec in specs]
    order = {key: n for n, key in enumerate(keys)}
    return sorted([*result.kept, *result.written], key=lambda row: order.get(_stored_key(row), len(order)))
