"""CSV rows that survive a crash: appended one write and one flush per row, read back without a torn line.

A run killed mid-row leaves a last line without its newline. Reading drops
that line (and any line with the wrong number of fields) and counts it, and
the caller rewrites the file atomically before appending again, so no row is
ever glued onto a torn one.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from sweeps.errors import RowFileError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredRows:
    """The complete rows of a CSV, and how many lines were dropped as torn or malformed."""

    rows: tuple[dict[str, str], ...]
    dropped: int


def read_rows(path: Path, columns: Sequence[str]) -> StoredRows:
    """The complete rows of ``path`` (none if it does not exist); :class:`RowFileError` if its columns differ."""
    path = Path(path)
    if not path.is_file():
        return StoredRows((), 0)
    data = path.read_bytes()
    dropped = 0
    if data and not data.endswith(b"\n"):
        data, dropped = data[: data.rfind(b"\n") + 1], 1
    try:
        records = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    except (UnicodeDecodeError, csv.Error) as err:
        raise RowFileError(f"{path} is not a readable CSV ({err}); delete it or choose another --out folder") from None
    if not records:
        return StoredRows((), dropped)
    if tuple(records[0]) != tuple(columns):
        raise RowFileError(f"{path} is not this sweep's CSV (its columns differ); choose another --out folder")
    rows = [dict(zip(columns, r)) for r in records[1:] if len(r) == len(columns)]
    dropped += len(records) - 1 - len(rows)
    if dropped:
        log.warning("%s: dropped %d torn or malformed line(s) left by an interrupted run; %d complete rows kept",
                    path, dropped, len(rows))
    return StoredRows(tuple(rows), dropped)


def rewrite_rows(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> None:
    """Replace ``path`` with the header and ``rows``, atomically (a temporary file renamed into place)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class RowAppender:
    """``with RowAppender(path, columns) as out: out.write(row)``: each row one write and one flush.

    ``path`` must already hold the header (see :func:`rewrite_rows`).
    """

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path = Path(path)
        self.columns = tuple(columns)
        self._file: io.TextIOBase | None = None

    def __enter__(self) -> "RowAppender":
        self._file = open(self.path, "a", newline="", encoding="utf-8")
        return self

    def write(self, row: Mapping[str, object] | Sequence[object]) -> None:
        """Append one row (a mapping by column name, or values in column order) and flush it to the OS."""
        values = [row[c] for c in self.columns] if isinstance(row, Mapping) else list(row)
        if len(values) != len(self.columns):
            raise ValueError(f"a row has {len(values)} values but the CSV has {len(self.columns)} columns")
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow(values)
        self._file.write(line.getvalue())
        self._file.flush()

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
