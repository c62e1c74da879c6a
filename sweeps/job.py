"""The one resumable sweep job: a grid of cells, computed in fixed chunks, its rows appended to a CSV.

A sweep (cluster, memory, edit) describes itself as a :class:`Sweep` (its cells cut into fixed
chunks, the task computing a chunk, the rows of a computed cell) and names its files
(:class:`SweepFiles`) and identity (:class:`Identity`); :func:`run_job` does the rest:

- the identity file and the CSV are checked before anything is written (a refusal is one line:
  what differs, and how to start fresh), and again once the output is locked;
- while it runs, the output's lock refuses a second writer (:class:`sweeps.OutputLockedError`);
- the complete cells already in the CSV are kept as they are (torn lines, half-written cells and
  repeated rows are dropped, and only then is the file rewritten); every fixed chunk holding a
  missing cell is recomputed whole, and only the missing rows are appended, each one flushed;
- ``progress(done, total)`` counts cells, the stored ones included; Ctrl-C leaves only complete rows.

So a resumed sweep writes the bytes an uninterrupted one does (see :mod:`sweeps.chunks`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable, Mapping, Sequence

from engine.readout import Progress
from sweeps.chunks import unfinished
from sweeps.identity import check_identity, write_identity
from sweeps.lock import OutputLock
from sweeps.rows import RowAppender, read_rows, rewrite_rows
from sweeps.runners import LocalRunner, Runner

log = logging.getLogger(__name__)
Row = Mapping[str, object] | Sequence[object]


@dataclass(frozen=True)
class SweepFiles:
    """Where a sweep writes: its CSV (with ``columns``) and its identity file.

    ``whole_folder``: the lock covers the CSV's folder (a folder per sweep), else only the CSV
    (several sweeps, one folder).
    """

    csv: Path
    meta: Path
    columns: tuple[str, ...]
    whole_folder: bool = True

    def lock(self) -> OutputLock:
        """The lock this sweep holds while it writes."""
        return OutputLock(self.csv.parent) if self.whole_folder else OutputLock.beside(self.csv)


@dataclass(frozen=True)
class Identity:
    """What makes two runs the same sweep, and how a folder of another sweep is refused.

    ``value``: everything that changes a number (stored as the identity file); ``error``: the
    package's exception for a refusal; ``fresh``: how to start fresh besides another --out
    (default "delete that folder"); ``columns``: values every row carries (rows with others are refused).
    """

    value: dict
    error: type[Exception]
    fresh: str = ""
    columns: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Sweep:
    """A grid of cells and how to compute and write them.

    ``chunks``: every cell, cut at fixed boundaries (a chunk is one batch, one Ray task);
    ``task(engine, chunk, *args)``: a module-level function returning one value per cell of the chunk;
    ``rows(cell, value)``: the rows a computed cell writes (mappings by column, or values in column order);
    ``key(cell)`` and ``stored_key(row)``: the key of a cell, and of a stored row's cell (None drops the row);
    ``parts``: rows per cell, told apart by ``part(row)`` (a cell is complete once all are stored).
    """

    chunks: Sequence[Sequence[Any]]
    task: Callable[..., Sequence[Any]]
    rows: Callable[[Any, Any], Sequence[Row]]
    key: Callable[[Any], Hashable]
    stored_key: Callable[[dict[str, str]], Hashable | None]
    args: tuple = ()
    parts: int = 1
    part: Callable[[dict[str, str]], str] = lambda row: ""


@dataclass(frozen=True)
class JobResult:
    """What a run found and did: ``kept``, the rows already stored (as stored), ``stored``, the keys of their
    cells; ``values``, the value of each cell computed now, by key; ``written``, the rows written now."""

    kept: tuple[dict[str, str], ...]
    stored: frozenset
    values: dict
    written: list

    @property
    def ran(self) -> int:
        """How many cells were computed now."""
        return len(self.values)


def check_files(files: SweepFiles, identity: Identity) -> None:
    """Raise ``identity.error`` (or :class:`sweeps.RowFileError`) unless the files are absent or hold this
    sweep: its identity file, its columns, its rows' fixed values. Reads only."""
    check_identity(files.meta.parent, identity.value, files.meta.name, identity.error, rows=files.csv,
                   fresh=identity.fresh)
    stored = read_rows(files.csv, files.columns).rows
    if identity.columns and stored:
        found = {k: stored[0][k] for k in identity.columns}
        if found != dict(identity.columns):
            fresh = identity.fresh or "delete that folder"
            raise identity.error(f"{files.csv} holds rows of {found}, not of {dict(identity.columns)}; start fresh "
                                 f"with another --out, or {fresh}")


def keep_complete(files: SweepFiles, sweep: Sweep) -> tuple[tuple[dict[str, str], ...], frozenset]:
    """The CSV's rows of complete cells, each once, and those cells' keys; the file is rewritten (atomically)
    only when it lacks its header or loses a line."""
    stored = read_rows(files.csv, files.columns)
    parts: dict[Hashable, set[str]] = {}
    for row in stored.rows:
        key = sweep.stored_key(row)
        if key is not None:
            parts.setdefault(key, set()).add(sweep.part(row))
    complete = frozenset(key for key, seen in parts.items() if len(seen) >= sweep.parts)
    kept, seen = [], set()
    for row in stored.rows:
        key = sweep.stored_key(row)
        # A row already seen (two writers before the lock existed) is dropped, not counted twice.
        if key in complete and (key, sweep.part(row)) not in seen:
            seen.add((key, sweep.part(row)))
            kept.append(row)
    path = files.csv
    if path.is_file() and path.stat().st_size and not stored.dropped and len(kept) == len(stored.rows):
        return stored.rows, complete
    if len(kept) < len(stored.rows):
        log.warning("%s: dropping %d rows of interrupted cells or repeated rows; missing cells are recomputed",
                    path, len(stored.rows) - len(kept))
    rewrite_rows(path, files.columns, kept)
    return tuple(kept), complete


def run_job(engine, files: SweepFiles, identity: Identity, plan: Callable[[], Sweep], runner: Runner | None = None,
            progress: Progress | None = None, finish: Callable[[JobResult], None] | None = None) -> JobResult:
    """Run (or resume) a sweep into ``files``; see the module's docstring.

    ``plan()`` describes the sweep; it runs once the output is locked (so the work it does, e.g. clean
    scores, is not done for a run that is refused). ``runner`` (default :class:`LocalRunner`) computes the
    chunks; this process writes every row exactly once. ``finish(result)`` runs last, still under the lock
    (e.g. to write plots beside the rows).
    """
    files = SweepFiles(Path(files.csv), Path(files.meta), tuple(files.columns), files.whole_folder)
    check_files(files, identity)
    with files.lock():
        check_files(files, identity)
        sweep = plan()
        write_identity(files.meta.parent, identity.value, files.meta.name)
        kept, stored = keep_complete(files, sweep)
        if stored:
            log.info("resuming %s: %d cell(s) already there", files.csv, len(stored))
        total = sum(len(chunk) for chunk in sweep.chunks)
        done = sum(sweep.key(cell) in stored for chunk in sweep.chunks for cell in chunk)
        work = [tuple(c) for c in unfinished(sweep.chunks, lambda cell: sweep.key(cell) in stored)]
        values, written = {}, []
        with RowAppender(files.csv, files.columns) as writer:
            for chunk, results in (runner or LocalRunner(engine)).map(sweep.task, work, *sweep.args):
                for cell, value in zip(chunk, results):
                    key = sweep.key(cell)
                    if key in stored or key in values:
                        continue
                    values[key] = value
                    for row in sweep.rows(cell, value):
                        writer.write(row)
                        written.append(row)
                    done += 1
                    if progress is not None:
                        progress(done, total)
        result = JobResult(tuple(kept), stored, values, written)
        if finish is not None:
            finish(result)
    return result
