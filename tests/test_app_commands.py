"""Every "Reproduce from the command line" box runs from the repository root as printed.

The commands are read off the pages (AppTest), split as a shell would, parsed by the
CLI's own parser and run; only ``--out`` is moved into a temporary folder so the test
writes nothing into the repository.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import COMMANDS
from test_app_helpers import app_model, assert_clean, charts, array, metric_values, open_app, open_typed  # noqa: F401
from ui.commands import PYTHON

ROOT = Path(__file__).resolve().parent.parent
VIEW = {"prompt": "The founder of Bridirkex was born in", "target": " Peicenton"}


def page_commands(at) -> list[str]:
    """The commands in the page's "Reproduce" boxes."""
    return [c.value for c in at.code if c.value.startswith(PYTHON + " ")]


def cli_of(command: str) -> str:
    """``"cluster sweep"`` for ``python -m cluster sweep ...``; ``"-c"`` for a one-liner."""
    argv = shlex.split(command)
    return "-c" if argv[1] == "-c" else " ".join(argv[2:4])


def run_command(command: str, out: Path) -> str:
    """Run one printed command in this process from the repository root; its stdout."""
    argv = shlex.split(command)
    assert argv[0] == PYTHON, command
    buf = io.StringIO()
    if argv[1] == "-c":
        with contextlib.redirect_stdout(buf):
            exec(compile(argv[2], "<command>", "exec"), {})  # noqa: S102 - the app's own one-liner
        return buf.getvalue()
    assert argv[1] == "-m", command
    cli = importlib.import_module(COMMANDS[argv[2]][0])  # the module whose main `python -m` runs
    args = argv[3:]
    cli.build_parser().parse_args(args)  # the printed flags parse as they are
    if "--out" in args:
        i = args.index("--out") + 1
        args[i] = args[i] if Path(args[i]).is_absolute() else str(out / args[i])
    with contextlib.redirect_stdout(buf):
        code = cli.main(args)
    assert code == 0, f"{command} exited with {code}"
    return buf.getvalue()


def pressed(page: str, query: dict, *buttons: str):
    """Open ``page`` on the view with ``query``, press ``buttons`` (which add figures and their commands)."""
    at = open_typed(page, VIEW["prompt"], VIEW["target"], query)
    for key in buttons:
        at.button(key=key).click().run()
    assert_clean(at)
    return at


# case -> (page, link, buttons pressed, the CLIs its commands call)
CASES = {
    "clusters-shipped": ("app_pages/clusters.py", {"cluster": "toxic", "find_percent": "2"}, (),
                         ["cluster find", "cluster describe"]),
    "clusters-custom": ("app_pages/clusters.py", {"cluster": "custom units…", "cluster_units": "1:3-5, 2:7"}, (),
                        ["cluster find", "cluster describe"]),
    "impair": ("app_pages/impair.py", {"k": "2", "points": "3", "per_topic": "2"}, ("curves_go",),
               ["-c", "-c"]),
    "impair-custom": ("app_pages/impair.py", {"cluster": "custom units…", "cluster_units": "3:0-15", "k": "2"}, (),
                      ["-c"]),
    "impair-mean": ("app_pages/impair.py", {"mode": "mean", "pos": "last"}, (), ["-c"]),
    "memory": ("app_pages/memory.py", {"memory": " Krothux"}, ("mem_sweep",), ["memory inject", "-c"]),
    "compare": ("app_pages/compare.py", {"model_b": "demo", "k": "2", "cka_pool": "4"}, (),
                ["compare impaired", "compare models"]),
    "lens": ("app_pages/lens.py", {}, (), ["-c", "lens decode"]),
}


@pytest.mark.timeout(900)
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_reproduce_command_runs_from_the_repository_root(app_model, case, tmp_path, monkeypatch):
    page, query, buttons, clis = CASES[case]
    commands = page_commands(pressed(page, query, *buttons))
    assert [cli_of(c) for c in commands] == clis, commands
    monkeypatch.chdir(ROOT)
    for command in commands:
        run_command(command, tmp_path)


def test_a_fresh_lens_folder_offers_a_training_command_that_runs(app_model, tmp_path, monkeypatch):
    folder = tmp_path / "lenses"
    at = pressed("app_pages/lens.py", {"lenses": str(folder), "train_steps": "2"})
    command = next(c for c in page_commands(at) if " lens train " in c)
    monkeypatch.chdir(ROOT)
    run_command(command, tmp_path)
    assert (folder / "lenses.json").is_file() or any(folder.glob("*.json")), "the command trained no lenses"


def run_as_printed(command: str) -> str:
    """Run ``command`` in a shell from the repository root, as a user pastes it; its stdout.

    The project's interpreter is ``.venv/bin/python`` (what ./run.sh sets up); where this
    checkout has none, the interpreter running the tests stands in for it.
    """
    if not (ROOT / PYTHON).is_file():
        command = shlex.quote(sys.executable) + command[len(PYTHON):]
    done = subprocess.run(command, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def number(pattern: str, text: str) -> float:
    """The number ``pattern`` (one group) finds in ``text``."""
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in {text!r}"
    return float(found.group(1))


@pytest.mark.timeout(900)
@pytest.mark.parametrize("query", [{"intensity_noise": "3.5", "k": "3", "seed": "4", "pos": "last"},
                                   {"mode": "scale", "intensity_scale": "0.2"}])
def test_the_impair_command_prints_the_numbers_on_screen(app_model, query):
    at = pressed("app_pages/impair.py", query)
    shown = metric_values(at)
    label = next(k for k in shown if k.startswith("p(target"))
    printed = run_as_printed(page_commands(at)[0])
    assert number(r"KL from clean ([-\d.e]+)", printed) == float(shown["KL from clean (nats)"])
    assert number(r"p\(target .*?\) ([-\d.e]+)", printed) == float(shown[label])
    assert number(r"rank (\d+)", printed) == float(shown["Target rank"])


@pytest.mark.timeout(900)
def test_the_memory_command_prints_the_probability_on_screen(app_model):
    at = pressed("app_pages/memory.py", {"memory": " Krothux", "mem_layer": "1", "mem_scale": "5"})
    shown = metric_values(at)
    printed = run_as_printed(page_commands(at)[0])
    before = next(v for k, v in shown.items() if k.endswith(") before"))
    p_before, p_after = number(r"before ([-\d.e]+)", printed), number(r"after ([-\d.e]+)", printed)
    assert f"{p_before:.4f}" == before and f"{p_after:.4f}" == shown["after injection"], printed


@pytest.mark.timeout(900)
def test_the_compare_command_prints_the_bars_on_screen(app_model):
    at = pressed("app_pages/compare.py", {"k": "2", "cka_pool": "3", "intensity_noise": "6"})
    bars = array(charts(at)[0]["data"][0]["y"])
    printed = run_as_printed(page_commands(at)[0])
    cka = [float(v) for v in re.findall(r"layer \d+: ([-\d.]+)", printed)]
    assert len(cka) == len(bars) and all(f"{b:.4f}" == f"{c:.4f}" for b, c in zip(bars, cka)), (bars, cka)


@pytest.mark.timeout(900)
def test_the_heatmap_command_prints_the_gains_on_screen(app_model):
    at = pressed("app_pages/memory.py", {"memory": " Krothux"}, "mem_sweep")
    heat = next(f for f in charts(at) if f["data"][0]["type"] == "heatmap")["data"][0]
    shown = array(heat["customdata"])
    printed = run_as_printed(page_commands(at)[-1])
    rows = [[float(g) for g in re.findall(r"x([-\d.e+]+)", line)] for line in printed.splitlines() if line.startswith("layer")]
    assert [[f"{g:.4g}" for g in row] for row in shown] == [[f"{g:.4g}" for g in row] for row in rows]


@pytest.mark.timeout(900)
def test_the_curves_command_prints_the_curves_on_screen(app_model):
    at = pressed("app_pages/impair.py", {"k": "2", "points": "3", "per_topic": "2"}, "curves_go")
    assert len(charts(at)) >= 2, "the curves chart is drawn under the live chart"
    shown = {t["name"].removesuffix(" (target)"): array(t["y"]) for t in charts(at)[1]["data"]
             if "random" not in t["name"]}
    printed = run_as_printed(page_commands(at)[-1])
    rows = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in printed.splitlines() if line.strip()}
    assert set(rows) == set(shown), (rows, shown)
    for topic, values in rows.items():
        assert [f"{v:.4f}" for v in shown[topic]] == [f"{v:.4f}" for v in values], topic


@pytest.mark.timeout(900)
def test_the_edit_command_prints_the_bars_on_screen(app_model):
    from test_app_edit import bars, open_fact

    at = open_fact({"edit_new": " cycling"})
    assert_clean(at)
    before, after = bars(at, "before"), bars(at, "after the edit")
    command = next(c for c in page_commands(at) if " -m edit apply " in c)
    assert all(line.startswith(("#", PYTHON + " -m edit apply ")) for line in command.splitlines()), command
    printed = run_as_printed(command)  # the whole box, as pasted: the sweep it mentions is only a comment
    rows = re.findall(r"p ([\d.]+) -> ([\d.]+)", printed)
    assert len(rows) == len(before) == len(after), printed
    assert [f"{b:.3f}" for b in before] == [b for b, _ in rows], printed
    assert [f"{a:.3f}" for a in after] == [a for _, a in rows], printed
