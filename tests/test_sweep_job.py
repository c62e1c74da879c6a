"""The one sweep job on a toy grid (no model): a cut CSV resumes whole chunks and writes only the missing
rows, another sweep's folder is refused in one line before anything is written, and progress counts every cell."""

from __future__ import annotations

import pytest

from engine.errors import LensLabError
from sweeps import Identity, Sweep, SweepFiles, run_job
from sweeps.chunks import fixed_chunks

COLUMNS = ("cell", "part", "value")


class ToyError(LensLabError, ValueError):
    """The toy sweep's refusal."""


def _double(engine, chunk, offset):
    """A chunk's values, as a batch would give them: each depends on the chunk's first cell too."""
    return [2 * cell + offset + chunk[0] / 1000 for cell in chunk]


def toy(tasks: list | None = None, chunk: int = 3) -> Sweep:
    def task(engine, cells, offset):
        if tasks is not None:
            tasks.append(tuple(cells))
        return _double(engine, cells, offset)

    return Sweep(chunks=fixed_chunks(list(range(10)), chunk), task=task if tasks is not None else _double,
                 rows=lambda cell, value: [(cell, part, repr(value)) for part in ("a", "b")],
                 key=lambda cell: cell, stored_key=lambda row: int(row["cell"]), args=(1,), parts=2,
                 part=lambda row: row["part"])


def files(folder) -> SweepFiles:
    return SweepFiles(folder / "rows.csv", folder / "rows.json", COLUMNS)


def test_a_cut_sweep_recomputes_whole_chunks_and_writes_the_uninterrupted_bytes(tmp_path):
    ident = Identity({"offset": 1}, ToyError)
    full = run_job(None, files(tmp_path / "full"), ident, toy)
    assert full.ran == 10
    data = (tmp_path / "full" / "rows.csv").read_bytes()
    lines = data.splitlines(keepends=True)
    # The header, cells 0..3 whole, and cell 4 with one of its two rows and half of the next.
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "rows.json").write_bytes((tmp_path / "full" / "rows.json").read_bytes())
    (tmp_path / "cut" / "rows.csv").write_bytes(b"".join(lines[:10]) + lines[10][:4])
    tasks, seen = [], []
    again = run_job(None, files(tmp_path / "cut"), ident, lambda: toy(tasks),
                    progress=lambda done, total: seen.append((done, total)))
    assert tasks == [(3, 4, 5), (6, 7, 8), (9,)]  # cell 3 is stored, but its chunk is recomputed whole
    assert again.ran == 6 and sorted(again.stored) == [0, 1, 2, 3]
    assert seen == [(n, 10) for n in range(5, 11)]
    assert (tmp_path / "cut" / "rows.csv").read_bytes() == data


def test_another_sweeps_folder_is_refused_in_one_line_before_anything_is_written(tmp_path):
    run_job(None, files(tmp_path), Identity({"offset": 1}, ToyError), toy)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(ToyError) as err:
        run_job(None, files(tmp_path), Identity({"offset": 2}, ToyError), toy)
    message = str(err.value)
    assert "\n" not in message and "different offset (offset: 1 there, 2 now)" in message
    assert "start fresh with another --out" in message
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
