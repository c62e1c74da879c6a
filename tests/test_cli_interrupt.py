"""Ctrl-C ends a command with one line and exit status 130, and the run resumes where it stopped."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lens.storage import CHECKPOINT_FILE
from lens.header import HEADER_FILE
from memory.__main__ import main as memory_main
from memory.sweep import COLUMNS, CSV_NAME
from sweeps import read_rows
from tiny_models import SENTENCES
from promptsets.schema import TWO_HOP_FILE, TwoHopPrompt, write_jsonl

ROOT = Path(__file__).resolve().parent.parent


def _interrupt_when(argv: list[str], ready, module: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m argv`` (``python argv`` unless ``module``), send SIGINT once ``ready()`` holds, and wait
    for it to end."""
    # A shell that runs the tests in the background (``cmd &``) hands its children SIGINT ignored, and
    # Python then never raises KeyboardInterrupt: the child gets the default handling a terminal gives.
    proc = subprocess.Popen([sys.executable, *(["-m"] if module else []), *argv], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the command ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _assert_one_line_130(done: subprocess.CompletedProcess, resumable: bool) -> None:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 130, done.stderr[-1500:]
    assert "Traceback" not in done.stderr
    assert lines[-1].strip().startswith("interrupted")
    assert ("run the same command again to resume" in lines[-1]) == resumable


def _rows(path: Path) -> list[tuple]:
    return sorted((r["key"], r["layer"], round(float(r["scale"]), 9), round(float(r["p_after"]), 9))
                  for r in read_rows(path, COLUMNS).rows)


def test_ctrl_c_stops_a_memory_sweep_that_then_resumes_to_the_full_rows(tiny_model_dir, tmp_path):
    write_jsonl(tmp_path / "prompts" / TWO_HOP_FILE, [TwoHopPrompt(
        "born", "The founder of Zentrix was born in", " Marlow", " Tovaren", " Zentrix", "heldout", " Melisande")])
    args = ["sweep", "--model", str(tiny_model_dir), "--prompts", str(tmp_path / "prompts"), "--layers", "0:2",
            "--scales", "1:200:1", "--threads", "1"]
    csv_path = tmp_path / "cut" / CSV_NAME

    def some_rows() -> bool:
        return csv_path.is_file() and csv_path.read_text(encoding="utf-8").count("\n") > 20

    done = _interrupt_when(["memory", *args, "--out", str(tmp_path / "cut")], some_rows)
    _assert_one_line_130(done, resumable=True)
    kept = read_rows(csv_path, COLUMNS).rows
    assert 20 <= len(kept) < 2 * 3 * 200
    assert memory_main(args + ["--out", str(tmp_path / "cut")]) == 0
    assert memory_main(args + ["--out", str(tmp_path / "full")]) == 0
    assert _rows(csv_path) == _rows(tmp_path / "full" / CSV_NAME)


def test_ctrl_c_stops_lens_training_leaving_its_checkpoint_and_no_half_folder(tiny_model_dir, tmp_path):
    data = tmp_path / "text.txt"
    data.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    out = tmp_path / "lenses"
    argv = ["lens", "--threads", "1", "train", "--model", str(tiny_model_dir), "--data", str(data), "--out", str(out),
            "--steps", "100000", "--checkpoint-every", "2", "--batch-size", "4"]
    done = _interrupt_when(argv, lambda: (out / CHECKPOINT_FILE).is_file())
    _assert_one_line_130(done, resumable=True)
    assert (out / CHECKPOINT_FILE).is_file() and not (out / HEADER_FILE).exists()


# The child writes a flag file, then runs ``python -m <package>`` in-process: a Ctrl-C sent a moment after the
# flag appears (past runpy's own few milliseconds, as a person's key press is) lands while torch is importing.
EARLY = """
import pathlib, runpy, sys
sys.path.insert(0, {root!r})
sys.argv = [{package!r}, *{argv!r}]
pathlib.Path({flag!r}).write_text("started")
runpy.run_module({package!r}, run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize("package, argv", [
    ("cluster", ["sweep", "--model", "MODEL", "--prompts", "x", "--cluster", "x", "--out", "OUT"]),
    ("memory", ["sweep", "--model", "MODEL", "--prompts", "x", "--out", "OUT"]),
    ("lens", ["train", "--model", "MODEL", "--out", "OUT"]),
    ("probe", ["attribute", "--model", "MODEL", "--concepts", "x", "--concept", "role", "--out", "OUT"]),
    ("unlearn", ["sweep", "--model", "MODEL", "--out", "OUT"]),
])
def test_ctrl_c_in_the_first_second_is_one_line_not_a_traceback(tiny_model_dir, tmp_path, package, argv):
    flag = tmp_path / "started"
    argv = [str(tiny_model_dir) if a == "MODEL" else str(tmp_path / "out") if a == "OUT" else a for a in argv]
    script = EARLY.format(root=str(ROOT), package=package, argv=argv, flag=str(flag))
    seen: list[float] = []

    def started() -> bool:
        if flag.is_file() and not seen:
            seen.append(time.monotonic())
        return bool(seen) and time.monotonic() - seen[0] > 0.3

    done = _interrupt_when(["-c", script], started, module=False)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 130 and "Traceback" not in done.stderr, done.stderr[-1500:]
    assert lines[-1].startswith("interrupted")
    assert not (tmp_path / "out").exists()
