"""Sweep outputs survive crashes and refuse a second writer: kill mid-row, resume, lock the folder."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cluster import find_topic_clusters, save_cluster
from cluster.cli import main as cluster_main
from cluster.sweep import HEADER
from engine import Engine
from memory.__main__ import main as memory_main
from memory.sweep import COLUMNS, CSV_NAME
from sweeps import OutputLock, OutputLockedError, RowAppender, read_rows, rewrite_rows
from test_cluster_engine import tiny_prompts
from promptsets.schema import TWO_HOP_FILE, TwoHopPrompt, write_jsonl

ROOT = Path(__file__).resolve().parent.parent
# The child replaces RowAppender.write: at row KILL_AT it writes half the row, flushes and kills itself,
# as a power cut or the OOM killer would.
KILLER = textwrap.dedent("""
    import os, signal, sys
    sys.path[:0] = [{root!r}, {tests!r}]
    from sweeps import rows
    real, count = rows.RowAppender.write, [0]
    def write(self, row):
        count[0] += 1
        if count[0] == {kill_at}:
            values = list(row.values()) if isinstance(row, dict) else list(row)
            line = ",".join(map(str, values))
            self._file.write(line[: len(line) // 2])
            self._file.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        real(self, row)
    rows.RowAppender.write = write
    from {module} import main
    main({argv!r})
""")
HOLDER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from sweeps import OutputLock
    with OutputLock({folder!r}, {name!r}):
        print("locked", flush=True)
        time.sleep(600)
""")


def _killed_run(module: str, argv: list[str], kill_at: int) -> None:
    script = KILLER.format(root=str(ROOT), tests=str(ROOT / "tests"), kill_at=kill_at, module=module, argv=argv)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]


@pytest.fixture(scope="module")
def cluster_args(tiny_model_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cluster-inputs")
    write_jsonl(folder / "keywords.jsonl", tiny_prompts())
    cluster = find_topic_clusters(Engine.load(tiny_model_dir), tiny_prompts(), 5, topics=["athlete"])["athlete"]
    path = save_cluster(cluster, folder / "athlete.json")
    return ["sweep", "--model", str(tiny_model_dir), "--cluster", str(path), "--prompts", str(folder),
            "--modes", "scale,noise", "--intensities", "0,1", "--seeds", "0", "--threads", "1"]


@pytest.fixture(scope="module")
def memory_args(tiny_model_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("memory-inputs")
    prompts = [TwoHopPrompt("born", "The founder of Zentrix was born in", " Marlow", " Tovaren", " Zentrix",
                            "heldout", " Melisande")]
    write_jsonl(folder / TWO_HOP_FILE, prompts)
    return ["sweep", "--model", str(tiny_model_dir), "--prompts", str(folder), "--layers", "0:2", "--scales", "1:2", "--threads", "1"]


def _value(text: str) -> object:
    """Numbers to 9 decimals: a child process may sum in another order (tiny KLs of 1e-16 differ)."""
    try:
        return round(float(text), 9)
    except ValueError:
        return text


def _rows(path: Path, columns) -> list[tuple]:
    return sorted(tuple(_value(v) for v in r.values()) for r in read_rows(path, columns).rows)


def test_cluster_sweep_killed_mid_row_resumes_to_the_uninterrupted_rows(cluster_args, tmp_path, caplog):
    assert cluster_main(cluster_args + ["--out", str(tmp_path / "full")]) == 0
    _killed_run("cluster.cli", cluster_args + ["--out", str(tmp_path / "cut")], kill_at=11)
    csv_path = tmp_path / "cut" / "athlete-sweep.csv"
    assert not csv_path.read_bytes().endswith(b"\n")
    assert read_rows(csv_path, HEADER).dropped == 1 and len(read_rows(csv_path, HEADER).rows) == 10
    assert cluster_main(cluster_args + ["--out", str(tmp_path / "cut")]) == 0
    assert "dropped 1 torn" in caplog.text
    assert _rows(csv_path, HEADER) == _rows(tmp_path / "full" / "athlete-sweep.csv", HEADER)
    assert csv_path.read_bytes() == (tmp_path / "full" / "athlete-sweep.csv").read_bytes()


def test_memory_sweep_killed_mid_row_resumes_to_the_uninterrupted_rows(memory_args, tmp_path, caplog):
    assert memory_main(memory_args + ["--out", str(tmp_path / "full")]) == 0
    _killed_run("memory.__main__", memory_args + ["--out", str(tmp_path / "cut")], kill_at=5)
    assert read_rows(tmp_path / "cut" / CSV_NAME, COLUMNS).dropped == 1
    assert memory_main(memory_args + ["--out", str(tmp_path / "cut")]) == 0
    assert "dropped 1 torn" in caplog.text
    assert _rows(tmp_path / "cut" / CSV_NAME, COLUMNS) == _rows(tmp_path / "full" / CSV_NAME, COLUMNS)
    assert len(_rows(tmp_path / "cut" / CSV_NAME, COLUMNS)) == 2 * 3 * 2
    assert (tmp_path / "cut" / CSV_NAME).read_bytes() == (tmp_path / "full" / CSV_NAME).read_bytes()


def test_a_last_row_missing_only_its_newline_is_recomputed_not_glued(cluster_args, tmp_path):
    out = tmp_path / "sweep"
    assert cluster_main(cluster_args + ["--out", str(out)]) == 0
    csv_path = out / "athlete-sweep.csv"
    full = _rows(csv_path, HEADER)
    csv_path.write_bytes(csv_path.read_bytes()[:-1])
    for _ in range(2):  # the rerun repairs the file, and every later run reads it
        assert cluster_main(cluster_args + ["--out", str(out)]) == 0
        assert _rows(csv_path, HEADER) == full and csv_path.read_bytes().endswith(b"\n")


def test_repeated_rows_from_two_writers_are_kept_once_on_rerun(memory_args, tmp_path):
    out = tmp_path / "sweep"
    assert memory_main(memory_args + ["--out", str(out)]) == 0
    once = _rows(out / CSV_NAME, COLUMNS)
    stored = read_rows(out / CSV_NAME, COLUMNS).rows
    rewrite_rows(out / CSV_NAME, COLUMNS, stored + stored)
    assert memory_main(memory_args + ["--out", str(out)]) == 0
    assert _rows(out / CSV_NAME, COLUMNS) == once


@pytest.mark.parametrize("which", ["cluster", "memory"])
def test_a_second_writer_is_refused_and_a_killed_holders_lock_is_stale(which, cluster_args, memory_args, tmp_path,
                                                                      capsys, caplog):
    main, args = (cluster_main, cluster_args) if which == "cluster" else (memory_main, memory_args)
    out = tmp_path / "sweep"
    lock_name = ".athlete-sweep.csv.lock" if which == "cluster" else ".lenslab.lock"
    script = HOLDER.format(root=str(ROOT), folder=str(out), name=lock_name)
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(args + ["--out", str(out)]) == 2
        err = capsys.readouterr().err
        last = err.strip().splitlines()[-1]
        assert last.startswith("error: ") and "Traceback" not in err
        assert f"another run (process {holder.pid})" in last and "--out" in last
    finally:
        holder.kill()
        holder.wait()
    assert main(args + ["--out", str(out)]) == 0
    assert f"stale lock left by process {holder.pid}" in caplog.text
    assert not (out / lock_name).exists()  # released and removed on exit


def test_lock_is_exclusive_and_released(tmp_path):
    with OutputLock(tmp_path) as held:
        assert held.stale_pid is None
        with pytest.raises(OutputLockedError, match="wait for it to finish"):
            with OutputLock(tmp_path):
                pass
    with OutputLock(tmp_path):
        pass


def test_appended_rows_read_back_with_a_torn_line_dropped(tmp_path):
    path = tmp_path / "rows.csv"
    rewrite_rows(path, ("a", "b"), [])
    with RowAppender(path, ("a", "b")) as out:
        out.write({"a": "x, with comma", "b": 1})
        out.write(["y", 2])
    with open(path, "a", encoding="utf-8") as f:
        f.write("z,3")
    stored = read_rows(path, ("a", "b"))
    assert stored.rows == ({"a": "x, with comma", "b": "1"}, {"a": "y", "b": "2"}) and stored.dropped == 1
