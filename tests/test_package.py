"""LensLab installs as a package: its pins match requirements.txt, `lenslab` runs every command, ruff is clean."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from cli.main import COMMANDS, main

ROOT = Path(__file__).resolve().parent.parent


def _pins(lines) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line and not line.startswith("-r"):
            name, version = re.split(r"==", line)
            pins[name.strip().lower()] = version.strip()
    return pins


def test_pyproject_pins_are_the_requirements_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    wanted = _pins((ROOT / "requirements.txt").read_text().splitlines())
    wanted |= _pins((ROOT / "requirements-dev.txt").read_text().splitlines())
    assert _pins(declared) == wanted


def test_every_package_with_a_command_is_installed_by_pyproject():
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    patterns = {p.rstrip("*") for p in find["include"]}
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name not in ("tests", "bench")}
    assert packages <= patterns, f"not installed: {sorted(packages - patterns)}"


def test_lenslab_help_lists_the_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name, (module, _) in COMMANDS.items():
        if (ROOT / module.split(".")[0]).is_dir():
            assert f"  {name} " in out
    assert "  app " in out


def test_lenslab_runs_a_command_as_python_m_does(capsys):
    try:
        code = main(["lens", "--help"])
    except SystemExit as stop:  # argparse's --help exits
        code = stop.code
    assert code == 0
    assert "train" in capsys.readouterr().out


def test_an_unknown_command_is_one_line_and_exit_2(capsys):
    assert main(["lense"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown command 'lense'" in err and "lens" in err


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is pinned in requirements-dev.txt; ./run.sh test installs it"
    done = subprocess.run([ruff, "check", "--quiet", "."], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
